"""`collect` inside a throwaway network namespace writes the CONTRACT files and reads back."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from nflens.errors import ToolError
from nflens.proc import FakeRunner
from nflens.snapshot import collect, read_snapshot


def _ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True)


@pytest.fixture
def netns():
    name = f"nflens-col-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.lab
def test_collect_in_a_namespace_writes_the_files_and_reads_back(netns, tmp_path):
    # a dummy-like interface (a veth pair: the dummy module may be missing) and one rule
    _ip(netns, "ip", "link", "add", "nfl0", "type", "veth", "peer", "name", "nfl1")
    _ip(netns, "ip", "addr", "add", "192.0.2.1/24", "dev", "nfl0")
    _ip(netns, "ip", "link", "set", "nfl0", "up")
    _ip(netns, "iptables", "-A", "INPUT", "-i", "nfl0", "-p", "tcp", "--dport", "22",
        "-j", "ACCEPT")
    report = collect(tmp_path, netns=netns)
    for name in ("ip-addr.json", "ip-link.json", "ip-route.json", "ip-rule.json", "ss.txt",
                 "sysctl.txt", "iptables-save.txt"):
        assert name in report.written, report.missing
    assert all(cmd[:2] == ["nsenter", f"--net=/run/netns/{netns}"] for _, cmd in report.commands)
    # no Docker in the namespace: the docker files are missing, each with a reason
    missing = dict(report.missing)
    assert "docker-containers.json" in missing and missing["docker-containers.json"]
    assert "--dport 22" in (tmp_path / "iptables-save.txt").read_text()
    host = read_snapshot(tmp_path)
    assert host.interface("nfl0").addresses[0].ip.compressed == "192.0.2.1"
    assert host.interface("nfl0").kind == "veth"
    assert host.interface("nfl0").peer_ifindex == host.interface("nfl1").index
    assert any(r.dst.compressed == "192.0.2.0/24" for r in host.routes)
    assert any("no docker-containers.json" in a for a in host.assumptions)


@pytest.mark.lab
def test_collect_refuses_a_namespace_that_does_not_exist(tmp_path):
    with pytest.raises(ToolError, match="does not exist"):
        collect(tmp_path, netns=f"nflens-none-{uuid.uuid4().hex[:8]}")


def test_collect_reports_commands_that_fail_with_their_reason(tmp_path):
    def script(call):
        argv = call.argv
        if argv[0] == "ip":
            return 0, "[]", ""
        if argv[0] == "docker":
            return 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"
        return 127, "", f"{argv[0]}: command not found"

    report = collect(tmp_path, runner=FakeRunner(script), daemon_json=tmp_path / "nope.json")
    assert "ip-addr.json" in report.written
    missing = dict(report.missing)
    assert "command not found" in missing["iptables-save.txt"]
    assert "docker info" in missing["docker-info.json"]
    assert "did not answer" in missing["docker-containers.json"]
    assert "does not exist" in missing["daemon.json"]
    assert not (tmp_path / "iptables-save.txt").exists()


def test_collect_with_a_docker_host_passes_dash_h(tmp_path):
    def script(call):
        argv = list(call.argv)
        if argv[:4] == ["docker", "-H", "unix:///run/x.sock", "ps"]:
            return 0, "", ""
        if argv[:4] == ["docker", "-H", "unix:///run/x.sock", "network"] and "ls" in argv:
            return 0, "abc\n", ""
        return 0, "[]" if argv[0] != "ss" else "", ""

    runner = FakeRunner(script)
    report = collect(tmp_path, docker_host="unix:///run/x.sock", runner=runner,
                     daemon_json=tmp_path / "nope.json")
    seen = [list(argv) for argv in runner.tools()]
    assert (tmp_path / "docker-containers.json").read_text() == "[]\n"
    assert ["docker", "-H", "unix:///run/x.sock", "network", "inspect", "abc"] in seen
    assert "docker-networks.json" in report.written
