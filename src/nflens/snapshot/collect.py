"""Collect a snapshot (CONTRACT §2) from a live host: read-only commands only.

Every command here only reads state: `*-save`, `nft -j list ruleset`, `ip -j ... show`, `ss`,
`sysctl -a`, `docker inspect/info/version`. Nothing is ever changed. Inside a network namespace
(`netns`) each command runs under `nsenter --net=/run/netns/NAME`, so `ip`, `ss`, `sysctl` and
the netfilter tools see that namespace. A command that cannot run (tool missing, no
permission, no Docker daemon) leaves its file out and says why in `CollectReport.missing`; the
reader then records what it assumed instead.

Processes go through the one seam, `nflens.proc.ProcessRunner` (tests pass a FakeRunner with
canned outputs); the live runner is `nflens.proc.LOCAL`.

No secret leaves the host (issue 29.3): containers are inspected through a Go template
(CONTAINER_FORMAT) that keeps only what the analysis reads of `docker inspect` — Id, Name,
State, HostConfig's NetworkMode and PortBindings, NetworkSettings' Ports and Networks, and from
Config the Image, ExposedPorts and Labels. `Config.Env` is never written, not even the variable
names (nothing reads them); neither are Cmd, Entrypoint, Hostname, mounts or log paths. The
template is rendered by the docker CLI itself, so the shell script (script.py) drops the same
fields on a host without Python. `docker inspect --format` prints one object per line;
`json_lines_array` makes them the JSON list the reader expects, as the script's sed does.

The tables below (COMMANDS, DOCKER_COMMANDS, DOCKER_INSPECT, DAEMON_JSON, and persist.py's
FIXED/GLOBS) are the one list of what a snapshot holds: `nflens snapshot script`
(snapshot/script.py) renders the same tables as a POSIX shell script for hosts without nflens.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens import dialect_registry
from nflens.errors import ToolError
from nflens.proc import LOCAL, ProcessRunner, nsenter
from nflens.snapshot import podmanfiles

Runner = ProcessRunner

# file -> argv (the commands of CONTRACT §2); the rulesets first, as their dialects say
COMMANDS: tuple[tuple[str, list[str]], ...] = dialect_registry.collected() + (
    ("ipset-save.txt", ["ipset", "save"]),
    ("ip-addr.json", ["ip", "-j", "addr", "show"]),
    ("ip-link.json", ["ip", "-j", "-d", "link", "show"]),
    ("ip-route.json", ["ip", "-j", "route", "show", "table", "all"]),
    ("ip6-route.json", ["ip", "-6", "-j", "route", "show", "table", "all"]),
    ("ip-rule.json", ["ip", "-j", "rule", "show"]),
    ("ss.txt", ["ss", "-Htlnupe"]),  # -e: the owner (uid:), CONTRACT §2
    ("sysctl.txt", ["sysctl", "-a"]),
)
# Docker, asked only when `docker info` answers: file -> docker arguments
DOCKER_COMMANDS: tuple[tuple[str, list[str]], ...] = (
    ("docker-info.json", ["info", "--format", "{{json .}}"]),
    ("docker-version.json", ["version", "--format", "{{json .}}"]),
)
# What a snapshot keeps of a container (see the module docstring), as paths into `docker
# inspect`'s object: the template below and `container_fields` (snapshot redact, for snapshots
# made before) are both made from it.
CONTAINER_FIELDS: tuple[tuple[str, ...], ...] = (
    ("Id",), ("Name",), ("State",),
    ("HostConfig", "NetworkMode"), ("HostConfig", "PortBindings"),
    ("NetworkSettings", "Ports"), ("NetworkSettings", "Networks"),
    ("Config", "Image"), ("Config", "ExposedPorts"), ("Config", "Labels"),
)


_tree = podmanfiles.field_tree


def _template(tree: dict[str, Any], prefix: str = "") -> str:
    """A Go template printing the fields of `tree` as one JSON object (docker's `json`).

    A nested field is read with `index`, not `.A.B`: the docker CLI runs a template on its
    typed object first and, when that fails, on the raw JSON as a map with missingkey=error
    (cli/command/inspect tryRawInspectFallback). Docker 28 omits empty fields such as
    `Config.ExposedPorts`, and `.Config.ExposedPorts` then failed the whole file ("map has no
    entry for key", lab: docker_versions-noproxy); `index` of a missing key is null, and on the
    typed object `index` fails at once, so the map is what it reads on every version."""
    parts = []
    for key, sub in tree.items():
        if sub is not None:
            value = _template(sub, f"{prefix}.{key}")
        elif prefix:
            value = f'{{{{json (index {prefix} "{key}")}}}}'
        else:
            value = f"{{{{json .{key}}}}}"
        parts.append(f'"{key}":{value}')
    return "{" + ",".join(parts) + "}"


def container_fields(obj: Any) -> Any:
    """A `docker inspect` object cut to CONTAINER_FIELDS, as the template would print it (a
    missing field is null)."""
    def cut(node: Any, tree: dict[str, Any]) -> dict[str, Any]:
        node = node if isinstance(node, dict) else {}
        return {k: node.get(k) if sub is None else cut(node.get(k), sub)
                for k, sub in tree.items()}
    return cut(obj, _tree(CONTAINER_FIELDS)) if isinstance(obj, dict) else obj


# one object per line, no space-free assumption (the script passes it as one word)
CONTAINER_FORMAT = _template(_tree(CONTAINER_FIELDS))
# file -> (the command listing ids, the command inspecting them, its --format or None);
# no ids -> "[]"
DOCKER_INSPECT: tuple[tuple[str, list[str], list[str], str | None], ...] = (
    ("docker-containers.json", ["ps", "-aq"], ["inspect"], CONTAINER_FORMAT),
    ("docker-networks.json", ["network", "ls", "-q"], ["network", "inspect"], None),
)
DOCKER_FILES = tuple(f for f, _ in DOCKER_COMMANDS) + tuple(f for f, *_ in DOCKER_INSPECT)
DAEMON_JSON = Path("/etc/docker/daemon.json")
# one line `FILE: reason` per file that could not be collected (kept with the snapshot)
MISSING_FILE = "collect-missing.txt"


def json_lines_array(text: str) -> str:
    """`docker inspect --format` output (one JSON object per line) as one JSON list, byte for
    byte what the script's `{ echo '['; sed '$!s/$/,/'; echo ']'; }` writes."""
    return "[\n" + ",\n".join(text.splitlines()) + "\n]\n"


@dataclass
class CollectReport:
    """What `collect` wrote and what it could not, with the reason for each missing file."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    commands: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


def failure_reason(rc: int, stderr: str) -> str:
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
    return f"exit {rc}" + (f": {first}" if first else "")


class _Collector:
    def __init__(self, out_dir: Path, netns: str | None, docker_host: str | None,
                 runner: Runner, podman: list[str] | None = None):
        self.out = out_dir
        self.netns = netns
        self.docker_host = docker_host
        self.podman = podman
        self.runner = runner
        self.report = CollectReport(out_dir)

    def run(self, file: str, argv: list[str]) -> str | None:
        full = nsenter(self.netns, argv)
        self.report.commands.append((file, full))
        proc = self.runner.run(full)
        if not proc.ok:
            why = failure_reason(proc.returncode, proc.error or proc.stderr)
            self.report.missing.append((file, f"`{' '.join(argv)}` failed: {why}"))
            return None
        return proc.stdout

    def write(self, file: str, text: str) -> None:
        if file.endswith(".json"):
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                self.report.missing.append((file, f"output is not JSON: {exc.msg}"))
                return
        (self.out / file).write_text(text, encoding="utf-8")
        self.report.written.append(file)

    def host_files(self) -> None:
        for file, argv in COMMANDS:
            out = self.run(file, argv)
            if out is not None:
                self.write(file, out if file.endswith(".json") or out.endswith("\n") or not out
                           else out + "\n")

    def docker(self, args: list[str]) -> list[str]:
        base = ["docker"] + (["-H", self.docker_host] if self.docker_host else [])
        return base + args

    def docker_files(self) -> None:
        if self.netns is not None and self.docker_host is None:
            for name in DOCKER_FILES:
                self.report.missing.append((name, f"no docker host given for namespace "
                                            f"{self.netns!r}: the default daemon belongs to "
                                            "another namespace"))
            return
        (first, first_args), *rest = DOCKER_COMMANDS
        info = self.run(first, self.docker(first_args))
        if info is None:
            for name in DOCKER_FILES[1:]:
                self.report.missing.append((name, "the Docker daemon did not answer `docker info`"))
            return
        self.write(first, info)
        for file, args in rest:
            out = self.run(file, self.docker(args))
            if out is not None:
                self.write(file, out)
        for file, list_args, inspect_args, fmt in DOCKER_INSPECT:
            self.inspect(file, list_args, inspect_args, fmt)

    def podman_files(self) -> None:
        """podmanfiles.FILES, as docker_files: `podman info` first, the inspects after it."""
        if self.podman is None:
            for name in podmanfiles.FILES:
                self.report.missing.append((name, f"no podman command given for namespace "
                                            f"{self.netns!r}"))
            return
        base = self.podman
        info = self.run(podmanfiles.INFO[0], base + podmanfiles.INFO[1])
        if info is None:
            for name in podmanfiles.FILES[1:]:
                self.report.missing.append((name, "podman did not answer `podman info`"))
            return
        self.write(podmanfiles.INFO[0], info)
        for file, list_args, inspect_args, fmt in podmanfiles.INSPECT:
            self.inspect(file, list_args, inspect_args, fmt, lambda args: base + args)

    def inspect(self, file: str, list_args: list[str], inspect_args: list[str],
                fmt: str | None, tool: Callable[[list[str]], list[str]] | None = None) -> None:
        """`tool` makes the argv (docker with its -H by default; podman)."""
        tool = tool or self.docker
        ids = self.run(file, tool(list_args))
        if ids is None:
            return
        wanted = ids.split()
        if not wanted:
            self.write(file, "[]\n")
            return
        formatted = ["--format", fmt] if fmt is not None else []
        out = self.run(file, tool(inspect_args + formatted + wanted))
        if out is not None:
            self.write(file, json_lines_array(out) if fmt is not None else out)

    def daemon_json(self, path: Path | None) -> None:
        if path is None:
            self.report.missing.append(("daemon.json", "the daemon in this namespace has no "
                                        "known daemon.json path"))
            return
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.report.missing.append(("daemon.json", f"{path} does not exist (Docker defaults)"))
            return
        except OSError as exc:
            self.report.missing.append(("daemon.json", f"{path}: {exc.strerror or exc}"))
            return
        self.write("daemon.json", text)


def collect(out_dir: Path, netns: str | None = None, docker_host: str | None = None,
            runner: Runner | None = None, daemon_json: Path | None = None,
            persist_root: Path | None = None, podman: list[str] | None = None
            ) -> CollectReport:
    """Write a snapshot of the live host (or of network namespace `netns`) into `out_dir`.

    `docker_host` is passed to `docker -H`; inside a namespace Docker is only asked when it is
    given. `persist_root` (default / on the live host, nothing inside a namespace) is where
    the persistence files are read from (snapshot/persist.py). `daemon_json` overrides
    /etc/docker/daemon.json (read on the host, outside a netns, unless given). `podman`: the
    podman command (default `podman` on the live host; inside a namespace only when given, as
    Docker). Raises
    ToolError when the namespace does not exist or nsenter is missing.
    """
    out_dir = Path(out_dir)
    if netns is not None:
        if not Path(f"/run/netns/{netns}").exists():
            raise ToolError(f"network namespace {netns!r} does not exist (/run/netns/{netns})")
        if runner is None and shutil.which("nsenter") is None:
            raise ToolError("nsenter is needed to collect inside a network namespace")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MISSING_FILE).unlink(missing_ok=True)  # a record of an earlier run would lie
    if podman is None and netns is None:
        podman = ["podman"]
    c = _Collector(out_dir, netns, docker_host, runner or LOCAL, podman)
    c.host_files()
    c.docker_files()
    c.podman_files()
    if daemon_json is None and netns is None:
        daemon_json = DAEMON_JSON
    c.daemon_json(daemon_json)
    if persist_root is None and netns is None and runner is None:  # the live host itself
        persist_root = Path("/")
    if persist_root is not None:  # a namespace has no files of its own: only when given
        from nflens.snapshot.persist import collect_persist

        c.report.written += [f"persist/{p}" for p in collect_persist(out_dir, persist_root)]
    if c.report.missing:
        (out_dir / MISSING_FILE).write_text("".join(f"{f}: {r}\n" for f, r in c.report.missing),
                                            encoding="utf-8")
    return c.report
