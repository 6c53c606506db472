"""snapshot/podmanstate.py: a Podman snapshot's containers and networks in the runtime model
(issue 27), the Docker-only host untouched, and bad Podman files refused at their line."""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path

import pytest

from nflens.errors import AmbiguousReference
from nflens.ir.host import Container, DockerState, Host
from nflens.snapshot import podmanstate
from nflens.snapshot.read import read_snapshot
from tests.inprocess import run_main

PODMAN = Path(__file__).resolve().parents[1] / "fixtures" / "podman"
LAB = Path(__file__).resolve().parents[1] / "fixtures" / "lab"


def test_podman_containers_networks_and_ports_are_read():
    host = read_snapshot(PODMAN / "dnat-port-4.3.1-iptables")
    web2 = host.runtimes.container("web2")
    assert web2 is not None and web2.runtime == "podman" and web2.running
    assert web2.endpoints[0].network == "web"
    assert web2.endpoints[0].ipv4 == ipaddress.ip_interface("10.213.213.2/24")
    assert [(b.host_port, b.container_port, b.proto) for b in web2.ports] == [(8080, 80, "tcp")]
    net = host.runtimes.network("web")
    assert net is not None and net.bridge == "podman1" and net.runtime == "podman"
    assert net.subnets == (ipaddress.ip_network("10.213.213.0/24"),)
    assert net.gateways == (ipaddress.ip_address("10.213.213.1"),) and not net.internal
    assert host.podman.daemon.version == "4.3.1"
    assert host.podman.daemon.firewall_backend == "iptables"
    assert host.docker == DockerState()  # Podman is not Docker: its own runtime


def test_the_driver_is_containers_conf_and_conf_d_overrides_it():
    conf = podmanstate.CONF
    assert podmanstate.firewall_driver({conf: '[network]\nfirewall_driver = "iptables"\n'}) \
        == "iptables"
    assert podmanstate.firewall_driver({
        conf: 'firewall_driver = "iptables"\n',
        conf + ".d/50-nft.conf": '[network]\nfirewall_driver = "nftables"\n'}) == "nftables"
    assert podmanstate.firewall_driver({}) is None
    host = read_snapshot(PODMAN / "egress-5.8.6-nftables")
    assert host.podman.daemon.firewall_backend == "nftables"


def test_a_docker_only_host_has_docker_as_its_runtimes():
    """Every Docker answer stays byte-identical: the joined view is Docker's own object."""
    host = read_snapshot(LAB / "bound_port-proxy")
    assert host.docker.containers and host.runtimes is host.docker
    assert host.podman == DockerState()


def test_a_name_both_runtimes_use_is_ambiguous_not_one_of_them():
    docker = DockerState((Container("a" * 64, "web"),))
    podman = DockerState((Container("b" * 64, "web", runtime="podman"),))
    host = Host(docker=docker, podman=podman)
    with pytest.raises(AmbiguousReference):
        host.runtimes.container("web")
    assert host.runtimes.container("b" * 12).runtime == "podman"  # an id prefix still works


def test_a_bad_podman_network_file_is_file_line_exit_2(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(PODMAN / "egress-4.3.1-iptables", snap)
    nets = json.loads((snap / "podman-networks.json").read_text())
    nets[1]["subnets"] = [{"subnet": 5}]
    (snap / "podman-networks.json").write_text(json.dumps(nets, indent=1))
    r = run_main("check", "--snapshot", str(snap), str(snap / "flows.json"))
    assert r.code == 2 and r.traceback is None
    assert f"{snap / 'podman-networks.json'}:" in r.err and "subnet" in r.err


def _rootless_snapshot(tmp_path: Path) -> Path:
    """input-bypass-4.3.1 as rootless Podman leaves the host: no netavark rule on the host,
    the published port a socket of the user's rootlessport (what podman does rootless)."""
    snap = tmp_path / "rootless"
    shutil.copytree(PODMAN / "input-bypass-4.3.1-iptables", snap)
    info = json.loads((snap / "podman-info.json").read_text())
    info["host"]["security"]["rootless"] = True
    (snap / "podman-info.json").write_text(json.dumps(info))
    (snap / "iptables-save.txt").write_text(
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        "-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        "-A INPUT -i eth1 -p tcp -m tcp --dport 8080 -j ACCEPT\nCOMMIT\n")
    (snap / "nft.json").unlink()  # the iptables-nft view of netavark's rules: gone too
    (snap / "ss.txt").write_text(
        'tcp LISTEN 0 4096 0.0.0.0:8080 0.0.0.0:* users:(("rootlessport",pid=900,fd=10))\n'
        'tcp LISTEN 0 4096 0.0.0.0:8081 0.0.0.0:* users:(("rootlessport",pid=901,fd=10))\n')
    return snap


def test_rootless_podman_ports_are_sockets_answered_through_input(tmp_path):
    snap = _rootless_snapshot(tmp_path)
    host = read_snapshot(snap)
    assert host.podman.networks == () and all(
        not c.ports and not c.endpoints for c in host.podman.containers)
    assert any("rootless Podman" in a and "tcp/8080" in a for a in host.assumptions)
    r = run_main("audit", "--json", "--snapshot", str(snap))
    audit = json.loads(r.out)
    assert not [f for f in audit["findings"] if f["id"] == "input-bypass"]
    rows = {(e["host_port"], json.dumps(e["target"])): e for e in audit["exposure"]}
    open_8080 = rows[(8080, json.dumps({"process": "rootlessport"}))]["reachable_from"]
    closed_8081 = rows[(8081, json.dumps({"process": "rootlessport"}))]["reachable_from"]
    assert [x["iface"] for x in open_8080 if x["sources"]] == ["eth1"]  # INPUT's accept
    assert not [x for x in closed_8081 if x["sources"]]  # INPUT's DROP policy
