"""What a snapshot holds of rootful Podman (CONTRACT §2, issue 27): the commands and templates
that `snapshot collect` (collect.py) and `snapshot script` (script.py) both use.

- podman-info.json: `podman info --format json` (asked first: when it fails, Podman is absent or
  broken and the other two files are recorded missing with that reason);
- podman-containers.json: `podman inspect` of every `podman ps -aq` id through a Go template
  (CONTAINER_FORMAT) that keeps only what a runtime model reads -- Id, Name, State, HostConfig's
  NetworkMode and PortBindings, NetworkSettings' Ports and Networks, Config's Image and Labels,
  ImageName and Pod. `Config.Env` is never written (issue 29.3), nor Cmd, Entrypoint, mounts;
- podman-networks.json: `podman network inspect` of every `podman network ls -q` name (netavark's
  networks: bridge name, subnets, gateway, internal, dns; no secret there).

Why the template differs from Docker's: podman renders `--format` on its typed inspect struct
only (no raw-map fallback as the docker CLI has), so nested fields are read as `.A.B`, which
works on the struct, and `index` (maps only) would fail. Found on podman 4.3.1 and 5.8.6 in the
lab (tests/lab/test_podman_collect.py): both render it, and every field is present in both.
/etc/containers/containers.conf (+ containers.conf.d) goes to persist/ (persist.py FIXED/GLOBS):
its `[network] firewall_driver` says whether netavark writes iptables chains or `inet netavark`.
"""

from __future__ import annotations

from typing import Any

CONTAINER_FIELDS: tuple[tuple[str, ...], ...] = (
    ("Id",), ("Name",), ("State",),
    ("HostConfig", "NetworkMode"), ("HostConfig", "PortBindings"),
    ("NetworkSettings", "Ports"), ("NetworkSettings", "Networks"),
    ("Config", "Image"), ("Config", "Labels"), ("ImageName",), ("Pod",),
)


def field_tree(paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """Paths into an inspect object as a nested dict (leaves None); Docker's tables use it too."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = None
    return tree


# JSON key -> the Go field of podman's struct where they differ (`ID` is printed as "Id"; `.Id`
# fails: "can't evaluate field Id", lab, podman 5.8.6)
GO_NAMES = {"Id": "ID"}


def _template(tree: dict[str, Any], prefix: str = "") -> str:
    """A Go template printing the fields of `tree` as one JSON object, read on podman's typed
    inspect struct (`.A.B`; see the module docstring)."""
    parts = []
    for key, sub in tree.items():
        name = GO_NAMES.get(key, key)
        value = (_template(sub, f"{prefix}.{name}") if sub is not None
                 else f"{{{{json {prefix}.{name}}}}}")
        parts.append(f'"{key}":{value}')
    return "{" + ",".join(parts) + "}"


CONTAINER_FORMAT = _template(field_tree(CONTAINER_FIELDS))
INFO = ("podman-info.json", ["info", "--format", "json"])
# file -> (the command listing ids/names, the command inspecting them, its --format or None)
INSPECT: tuple[tuple[str, list[str], list[str], str | None], ...] = (
    ("podman-containers.json", ["ps", "-aq"], ["inspect"], CONTAINER_FORMAT),
    ("podman-networks.json", ["network", "ls", "-q"], ["network", "inspect"], None),
)
FILES = (INFO[0],) + tuple(f for f, *_ in INSPECT)
