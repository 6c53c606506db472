"""On a real kernel: the shell script, `snapshot collect` and their tarballs give the same answers.

A lab host namespace (nflens.lab: namespaces nfl-<id>-*, torn down even on failure) with a LAN
and a WAN client, a host service and firewall rules in iptables, nft and ebtables; then, on the
same host, `collect()` and `sh collect.sh` (run inside the namespace with nsenter; also under
BusyBox's sh), each also as a tarball (`snapshot collect --tar`, `collect.sh --tar`). `check`
and `audit` must answer the same for all of them. The second test does it with a real dockerd
(seed 001, broken): containers, networks and Docker's own rules, collected by `docker -H` in both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nflens.lab import topology
from nflens.lab.netns import Lab, leftovers, nsenter, run_in
from nflens.snapshot.collect import collect
from nflens.snapshot.script import render
from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]

needs = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("busybox", "nsenter", "iptables", "nft", "ebtables")),
    reason="needs busybox-static, nsenter, iptables, nft and ebtables")

FLOWS = {"flows": [
    {"name": "lan-svc", "from": {"iface": "eth0", "src": "10.99.0.2"},
     "to": {"addr": "10.99.0.1", "port": 8000, "proto": "tcp"}},
    {"name": "wan-svc", "from": {"iface": "eth1", "src": "198.51.100.2"},
     "to": {"addr": "198.51.100.1", "port": 8000, "proto": "tcp"}},
    {"name": "wan-ssh", "from": {"iface": "eth1", "src": "198.51.100.2"},
     "to": {"addr": "198.51.100.1", "port": 22, "proto": "tcp"}},
    {"name": "local", "from": {"host": True},
     "to": {"addr": "127.0.0.1", "port": 8000, "proto": "tcp"}},
]}
RULES = [
    ["iptables", "-P", "INPUT", "DROP"],
    ["iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j",
     "ACCEPT"],
    ["iptables", "-A", "INPUT", "-i", "eth0", "-p", "tcp", "--dport", "8000", "-j", "ACCEPT"],
    ["ip6tables", "-A", "INPUT", "-p", "tcp", "--dport", "8000", "-j", "DROP"],
    ["nft", "add table inet extra; add chain inet extra in { type filter hook input priority 10; }"
     "; add rule inet extra in tcp dport 22 drop"],
    ["ebtables", "-A", "FORWARD", "-p", "ARP", "-j", "ACCEPT"],
]


def _fake_root(tmp_path: Path, daemon_json: str | None) -> Path:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/nftables.conf").write_text("flush ruleset\n")
    (root / "etc/systemd/system/fw.service").write_text("[Service]\nExecStart=iptables-restore "
                                                        "/etc/iptables/rules.v4\n")
    if daemon_json is not None:
        (root / "etc/docker").mkdir()
        (root / "etc/docker/daemon.json").write_text(daemon_json)
    return root


def _answers(snapshot: Path, flows: Path) -> tuple[dict, dict]:
    out = []
    for args in (["check", str(flows), "--json"], ["audit", "--json"]):
        proc = subprocess.run([sys.executable, "-m", "nflens", *args, "--snapshot", str(snapshot)],
                              capture_output=True, text=True, cwd=REPO, timeout=240)
        assert proc.returncode in (0, 1), proc.stderr
        out.append(json.loads(proc.stdout))
    return out[0], out[1]


def _collect_every_way(tmp_path: Path, ns: str, root: Path, docker_url: str | None
                       ) -> dict[str, Path]:
    """The same host collected by collect(), the CLI's --tar, the script (under sh and, when
    present, BusyBox's sh, whose applets then stand in for sed, tr, tar ...) and the script's
    --tar. Every snapshot is called `snap` (a host's name is its directory's)."""
    script = tmp_path / "collect.sh"
    script.write_text(render())
    daemon = root / "etc/docker/daemon.json"
    paths = {"collect": tmp_path / "collect" / "snap", "script": tmp_path / "script" / "snap",
             "collect-tar": tmp_path / "collect-tar" / "snap.tar.gz",
             "script-tar": tmp_path / "script-tar" / "snap.tar.gz"}
    shells = {"script": ["sh"], "script-tar": ["sh"]}
    if shutil.which("busybox"):
        paths["script-busybox"] = tmp_path / "script-busybox" / "snap"
        shells["script-busybox"] = ["busybox", "sh"]
    for p in paths.values():
        p.parent.mkdir()
    collect(paths["collect"], netns=ns, docker_host=docker_url, persist_root=root,
            daemon_json=daemon)
    docker = ["--docker-host", docker_url] if docker_url else ["--no-docker"]
    cli = subprocess.run([sys.executable, "-m", "nflens", "snapshot", "collect", "--netns", ns,
                          "--tar", str(paths["collect-tar"]), "--root", str(root)]
                         + (["--docker-host", docker_url] if docker_url else []),
                         capture_output=True, text=True, cwd=REPO, timeout=240)
    assert cli.returncode == 0, cli.stderr
    for key, shell in shells.items():
        where = ["--tar", str(paths[key])] if key.endswith("-tar") else [str(paths[key])]
        proc = subprocess.run(nsenter(ns, [*shell, str(script), *docker, "--root", str(root),
                                           *where]), capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
    return paths


def _assert_same_answers(paths: dict[str, Path], flows: Path) -> tuple[dict, dict]:
    want = _answers(paths["collect"], flows)
    for key in paths:
        if key == "collect":
            continue
        got = _answers(paths[key], flows)
        assert got[0] == want[0], f"check differs for {key}"
        assert got[1] == want[1], f"audit differs for {key}"
    return want


# what the host itself changes between two reads (kernel counters); the missing files' reasons
# differ in wording (`--no-docker` against "no docker host given for namespace")
VOLATILE = ("sysctl.txt", "collect-missing.txt")


def _settle(ns: str, timeout: float = 10) -> None:
    """Wait until IPv6 duplicate address detection is over (link-local addresses and their
    local routes appear when it ends): the host must not change between the collections."""
    import time

    deadline = time.monotonic() + timeout
    while run_in(ns, ["ip", "-6", "addr", "show", "tentative"]).stdout.strip():
        assert time.monotonic() < deadline, "IPv6 addresses still tentative"
        time.sleep(0.2)


def _same_files(a: Path, b: Path, volatile: tuple[str, ...] = ()) -> None:
    names_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert names_a == names_b
    for name in names_a:
        if name not in VOLATILE + volatile:
            assert _stable(a / name) == _stable(b / name), name


def _stable(path: Path) -> list[str]:
    """The file's lines; a *-save dump without its `# Generated ... on DATE` comments."""
    lines = path.read_text().splitlines()
    return [x for x in lines if not x.startswith("# ")] if path.name.endswith("-save.txt") \
        else lines


@needs
def test_script_and_collect_give_the_same_answers_on_a_lab_host(tmp_path):
    with Lab() as lab:
        topo = topology.build(lab, ipv6=True)
        topo.host_service(8000)
        for argv in RULES:
            run_in(topo.host, argv)
        root = _fake_root(tmp_path, '{"userland-proxy": false}\n')
        _settle(topo.host)
        paths = _collect_every_way(tmp_path, topo.host, root, None)
        lab_id = lab.id
    assert leftovers(lab_id) == []
    _same_files(paths["collect"], paths["script"])
    if "script-busybox" in paths:
        _same_files(paths["collect"], paths["script-busybox"])
    _write(tmp_path / "flows.json", FLOWS)
    check, audit = _assert_same_answers(paths, tmp_path / "flows.json")
    verdicts = {r["name"]: r["verdict"] for r in check["results"]}
    assert verdicts == {"lan-svc": "allow", "wan-svc": "deny", "wan-ssh": "deny",
                        "local": "allow"}
    assert any(e["host_port"] == 8000 for e in audit["exposure"])


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))


@pytest.mark.skipif(shutil.which("dockerd") is None or shutil.which("docker") is None,
                    reason="needs dockerd and the docker CLI")
@needs
def test_script_and_collect_give_the_same_answers_with_a_real_dockerd(tmp_path):
    from nflens.lab import run
    from nflens.lab.scenarios import load

    sc = load("seed001")
    with Lab() as lab:
        ctx = run.build(lab, sc, sc.variant("broken"))
        try:
            root = _fake_root(tmp_path, ctx.docker.daemon_json.read_text())
            _settle(ctx.host)
            paths = _collect_every_way(tmp_path, ctx.host, root, ctx.docker.url)
            flows = [f.contract(ctx.topo.client_addrs) for f in sc.flows]
        finally:
            ctx.docker.stop()
        lab_id = lab.id
    assert leftovers(lab_id) == []
    _write(tmp_path / "flows.json", {"flows": flows})
    # docker info carries the daemon's clock and goroutine counts, ip-link a bridge's timers
    _same_files(paths["collect"], paths["script"], volatile=("docker-info.json", "ip-link.json"))
    for name in ("docker-containers.json", "docker-networks.json", "docker-version.json"):
        assert (paths["script"] / name).exists(), name
    check, audit = _assert_same_answers(paths, tmp_path / "flows.json")
    assert {f["id"] for f in audit["findings"]} >= {"input-bypass"}
    assert any(r["verdict"] == "allow" for r in check["results"])
