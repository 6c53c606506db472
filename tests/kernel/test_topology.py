"""The host's topology as the diagram shows it (kernel/topology.py): which interfaces lead off
the host, and which container sits on which bridge."""

from __future__ import annotations

import dataclasses
import ipaddress

from nflens.ir.host import Container, ContainerEndpoint, Interface, Network
from nflens.kernel.topology import topology
from nflens.snapshot import read_snapshot


def _host(example_snapshot):
    """The example host plus a second, internal bridge and a host-network container."""
    h = read_snapshot(example_snapshot)
    d = h.docker
    both = Container("m1", "both", endpoints=(
        ContainerEndpoint("bridge", ipv4=ipaddress.ip_address("172.17.0.9")),
        ContainerEndpoint("extra", ipv4=ipaddress.ip_address("10.9.0.2"))))
    hostnet = Container("h1", "hostnet", endpoints=(ContainerEndpoint("host"),))
    extra = (Interface("br-extra", 99, kind="bridge"), Interface("veth123", 100, kind="veth"),
             Interface("vethx", 101, kind="veth", master="br-extra"),
             Interface("wg0", 102, kind="wireguard", up=False))
    return dataclasses.replace(h, interfaces=h.interfaces + extra, docker=dataclasses.replace(
        d, networks=d.networks + (Network("n2", "extra", bridge="br-extra", internal=True),),
        containers=d.containers + (both, hostnet)))


def test_uplinks_are_neither_bridges_loopback_bridge_ports_nor_stray_container_veths(
        example_snapshot):
    topo = topology(_host(example_snapshot))
    # eth0/eth1 are veths to the lab's other namespaces, not named veth*: they lead off the host
    assert [i.name for i in topo.uplinks] == ["eth0", "eth1", "wg0"]


def test_each_bridge_carries_its_docker_network_and_the_containers_seated_on_it(
        example_snapshot):
    topo = topology(_host(example_snapshot))
    sites = {s.interface.name: s for s in topo.bridges}
    assert sites["docker0"].network.name == "bridge"
    assert sites["br-extra"].network.internal
    assert [s.container.name for s in sites["docker0"].seats] == ["cache", "shop", "both"]
    assert sites["br-extra"].seats == ()


def test_a_container_on_two_bridges_sits_on_the_first_and_links_to_the_other(example_snapshot):
    topo = topology(_host(example_snapshot))
    assert topo.extra_links == (("br-extra", "both"),)


def test_a_container_on_no_bridge_of_this_host_is_unbridged(example_snapshot):
    topo = topology(_host(example_snapshot))
    assert [(s.container.name, s.endpoint.network) for s in topo.unbridged] == [
        ("hostnet", "host")]
