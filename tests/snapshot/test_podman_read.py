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
