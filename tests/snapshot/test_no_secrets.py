"""Issue 29.3: no environment value leaves the host, by `snapshot collect` or by the script.

A fake `docker` on PATH answers from the example snapshot's real `docker inspect` objects, with
secrets added where real hosts have them (`Config.Env`, `Config.Cmd`), and renders the
`--format` template it is given the way the docker CLI does (`{{json .A}}` and
`{{json (index .A "B")}}`: the field as
JSON; any other template action is refused, so the test sees exactly what the template asks).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nflens.snapshot.collect import collect, container_fields
from nflens.snapshot.read import read_snapshot
from tests.conftest import EXAMPLES
from tests.snapshot.test_script import _fake_host, _fake_root, _run_script

SNAP = EXAMPLES / "snapshot-example"
SECRETS = ("hunter2", "s3cret-token", "POSTGRES_PASSWORD")

FAKE_DOCKER = r'''#!@PYTHON@
import json, re, sys
objs = json.load(open("@FIXTURE@"))
nets = open("@NETWORKS@").read()
args = sys.argv[1:]
if args[0] in ("info", "version"):
    print(open("@SNAP@/docker-" + args[0] + ".json").read(), end="")
elif args == ["ps", "-aq"]:
    print("\n".join(o["Id"][:12] for o in objs))
elif args == ["network", "ls", "-q"]:
    print("5d2f\n9a01")
elif args[:2] == ["network", "inspect"]:
    print(nets, end="")
elif args[:2] == ["inspect", "--format"]:
    fmt, ids = args[2], args[3:]
    def field(obj, path):
        for part in path.strip(".").split("."):
            obj = obj.get(part) if isinstance(obj, dict) else None
        return obj
    for i in ids:
        obj = next(o for o in objs if o["Id"].startswith(i))
        dump = lambda v: json.dumps(v, separators=(",", ":"))
        line = re.sub(r"\{\{json ((?:\.\w+)+)\}\}",
                      lambda m: dump(field(obj, m.group(1))), fmt)
        # index of a map: a missing key is null (as the CLI's raw-JSON fallback gives it)
        line = re.sub(r'\{\{json \(index ((?:\.\w+)+) "(\w+)"\)\}\}',
                      lambda m: dump(field(obj, m.group(1) + "." + m.group(2))), line)
        if "{{" in line:
            sys.exit("fake docker: template action not understood: " + line)
        print(line)
elif args[0] == "inspect":
    print(json.dumps([o for o in objs if any(o["Id"].startswith(i) for i in args[1:])],
                     indent=4))
else:
    sys.exit("fake docker: unexpected " + " ".join(args))
'''


def _with_secrets(tmp_path: Path) -> Path:
    objs = json.loads((SNAP / "docker-containers.json").read_text())
    for obj in objs:
        obj["Config"]["Env"] = ["POSTGRES_PASSWORD=hunter2", "PATH=/usr/local/bin:/usr/bin"]
        obj["Config"]["Cmd"] = ["serve", "--token=s3cret-token"]
    path = tmp_path / "inspect-full.json"
    path.write_text(json.dumps(objs, indent=4))
    return path


def _install_docker(tmp_path: Path, bin_dir: Path) -> Path:
    full = _with_secrets(tmp_path)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.replace("@PYTHON@", sys.executable)
                      .replace("@FIXTURE@", str(full)).replace("@SNAP@", str(SNAP))
                      .replace("@NETWORKS@", str(SNAP / "docker-networks.json")))
    docker.chmod(0o755)
    return full


def _no_secret_anywhere(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in SECRETS:
                assert secret not in text, (path, secret)
    assert '"Env"' not in (root / "docker-containers.json").read_text()


def _containers(snapshot: Path):
    return read_snapshot(snapshot).docker.containers


@pytest.mark.parametrize("userland", ["system", "busybox"])
def test_collect_and_the_script_write_no_environment_value(tmp_path, monkeypatch, userland):
    bin_dir = _fake_host(tmp_path, docker_up=True, complete=True, userland=userland)
    full = _install_docker(tmp_path, bin_dir)
    root = _fake_root(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    by_collect = tmp_path / "a" / "snap"
    report = collect(by_collect, persist_root=root, daemon_json=root / "etc/docker/daemon.json")
    assert "docker-containers.json" in report.written, report.missing
    by_script = tmp_path / "b" / "snap"
    proc = _run_script(tmp_path, bin_dir, "--root", str(root), str(by_script))
    assert proc.returncode == 0, proc.stderr
    _no_secret_anywhere(by_collect)
    _no_secret_anywhere(by_script)
    assert (by_script / "docker-containers.json").read_bytes() == \
        (by_collect / "docker-containers.json").read_bytes()
    # everything the analysis reads of a container is still there: the same containers as
    # from the whole `docker inspect` output
    whole = tmp_path / "whole"
    whole.mkdir()
    whole.joinpath("docker-containers.json").write_text(full.read_text())
    kept = _containers(by_collect)
    assert kept == _containers(whole) and len(kept) == 2
    assert any(c.ports for c in kept) and all(c.endpoints for c in kept)
    # redact's cut of an old snapshot (container_fields) is what the template writes
    written = json.loads((by_collect / "docker-containers.json").read_text())
    assert written == [container_fields(o) for o in json.loads(full.read_text())]


def test_the_container_template_reads_nested_fields_through_index():
    """The docker CLI falls back to the raw JSON as a map with missingkey=error, and Docker 28
    omits empty fields (`Config.ExposedPorts`): a `.Config.ExposedPorts` chain failed the whole
    docker-containers.json there (lab: docker_versions-noproxy on 28). `index` gives null."""
    import re

    from nflens.snapshot.collect import CONTAINER_FORMAT

    assert not re.search(r"\{\{json \.\w+\.\w+", CONTAINER_FORMAT)
    assert '{{json (index .Config "ExposedPorts")}}' in CONTAINER_FORMAT
