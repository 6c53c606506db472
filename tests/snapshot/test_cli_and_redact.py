"""`nflens snapshot show|collect|redact` and redaction."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from nflens.cli.main import _register, app
from nflens.snapshot import read_snapshot, redact

_register()
runner = CliRunner()


def test_show_prints_a_summary(example_snapshot):
    result = runner.invoke(app, ["snapshot", "show", str(example_snapshot)])
    assert result.exit_code == 0, result.output
    for words in ("docker0", "shop", "172.17.0.2", "8080->80/tcp", "docker-proxy", "busybox",
                  "interfaces", "rulesets"):
        assert words in result.output
    assert "\x1b[" not in result.output  # no colour off a TTY


def test_show_json_is_one_object(example_snapshot):
    result = runner.invoke(app, ["snapshot", "show", str(example_snapshot), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {c["name"] for c in data["containers"]} == {"shop", "cache"}
    shop = next(c for c in data["containers"] if c["name"] == "shop")
    published = {"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "proto": "tcp"}
    assert published in shop["ports"]
    # collected before snapshots held `ipset save` (issue 25): that file, and only it, is missing
    assert data["files"]["missing"] == ["ipset-save.txt"]
    assert any(i["name"] == "docker0" and i["kind"] == "bridge" for i in data["interfaces"])
    assert set(data) >= {"assumptions", "routes", "sockets", "networks", "daemon", "ruleset",
                         "unsupported"}


def test_show_of_a_missing_directory_fails_with_its_name(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nflens", "snapshot", "show",
                           str(tmp_path / "gone")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "gone" in proc.stderr


def test_redact_replaces_public_addresses_consistently(tmp_path, example_snapshot):
    src = tmp_path / "src"
    shutil.copytree(example_snapshot, src)
    (src / "ss.txt").chmod(0o644)
    (src / "ss.txt").write_text((src / "ss.txt").read_text()
                                + "tcp LISTEN 0 5 8.8.8.8:53 0.0.0.0:*\n")
    (src / "ip-route.json").chmod(0o644)
    routes = json.loads((src / "ip-route.json").read_text())
    routes.append({"dst": "default", "gateway": "8.8.8.8", "dev": "eth1"})
    (src / "ip-route.json").write_text(json.dumps(routes))
    mapping = redact(src, tmp_path / "dst").addresses
    assert list(mapping) == ["8.8.8.8"]
    out = tmp_path / "dst"
    assert "8.8.8.8" not in (out / "ss.txt").read_text() + (out / "ip-route.json").read_text()
    host = read_snapshot(out)
    stand_in = mapping["8.8.8.8"]
    assert any(str(s.addr) == stand_in for s in host.sockets)
    assert any(str(r.gateway) == stand_in for r in host.routes)
    # private, documentation and Docker addresses are kept
    assert host.docker.container("shop").endpoints[0].ipv4.ip.compressed == "172.17.0.2"
    assert host.interface("eth1").addresses[0].ip.compressed == "198.51.100.1"


def test_redact_cli(tmp_path, example_snapshot):
    result = runner.invoke(app, ["snapshot", "redact", str(example_snapshot), str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "ip-addr.json").exists()
