"""Hosts beyond one Docker bridge (issue 25, issue 24 class 15): macvlan children (lab-proven:
tests/fixtures/lab/*macvlan-*) and ipvlan ones (from the kernel's source only: this machine's
kernel has no CONFIG_IPVLAN) beside the host's firewall; the endpoint a container on several
networks routes through (multi_net-*); the device an IPv6 link-local peer is answered by; hosts
behind a plain Linux bridge (plain_bridge-*)."""

from __future__ import annotations

import dataclasses
import ipaddress as ip

from nflens.ir.host import Address, Container, ContainerEndpoint, Interface, Network, Route, Socket
from nflens.ir.packet import Endpoint, Flow
from nflens.ir.rules import Table
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import base, docker_host

HOST_SVC = (Socket("tcp", ip.ip_address("0.0.0.0"), 8000, "busybox"),)
DROP_ALL = (Table("ip", "filter", (base("INPUT", "input", 0, policy="drop"),
                                   base("FORWARD", "forward", 0, policy="drop"))),)
SHIM = Interface("mvshim", 9, "macvlan", mac="02:00:00:00:00:99", lower="eth0", mode="bridge",
                 addresses=(Address(ip.ip_interface("10.99.0.254/32")),))
SHIM_ROUTES = (Route(ip.ip_network("10.99.0.48/29"), dev="mvshim",
                     prefsrc=ip.ip_address("10.99.0.254")),
               Route(ip.ip_network("10.99.0.254/32"), "local", "local", "mvshim"))


def _child(name: str, addr: str, network: str = "lan") -> Container:
    return Container(f"id-{name}", f"/{name}", endpoints=(ContainerEndpoint(
        network, ip.ip_interface(f"{addr}/24"), gateway4=ip.ip_address("10.99.0.1"),
        mac="02:42:0a:63:00:32"),))


def lan_host(tables=(), shim=False, driver="macvlan", options=(("parent", "eth0"),),
             children=("10.99.0.50",)):
    """docker_host plus a macvlan (or ipvlan) network on eth0 with children pihole, pihole2..."""
    host = docker_host(tables, HOST_SVC)
    net = Network("n-lan", "lan", driver=driver, subnets=(ip.ip_network("10.99.0.0/24"),),
                  gateways=(ip.ip_address("10.99.0.1"),), options=options)
    kids = tuple(_child("pihole" + ("" if i == 0 else str(i + 1)), a)
                 for i, a in enumerate(children))
    docker = dataclasses.replace(host.docker, containers=host.docker.containers + kids,
                                 networks=host.docker.networks + (net,))
    ifaces = host.interfaces + ((SHIM,) if shim else ())
    routes = host.routes + (SHIM_ROUTES if shim else ())
    return dataclasses.replace(host, docker=docker, interfaces=ifaces, routes=routes)


def flow(origin: Endpoint, dst: str, port: int = 80) -> Flow:
    return Flow("t", origin, ip.ip_address(dst), port)


LAN = Endpoint(iface="eth0", src=ip.ip_address("10.99.0.2"))
WAN = Endpoint(iface="eth1", src=ip.ip_address("198.51.100.2"))
HOST = Endpoint(host=True)
PIHOLE = Endpoint(container="pihole")


def test_the_lan_reaches_a_macvlan_container_past_input_and_forward_drop_policies():
    result = Simulator(lan_host(DROP_ALL)).run(flow(LAN, "10.99.0.50"))
    assert result.verdict == "allow"
    assert not any(s.kind == "rule" for s in result.steps)


def test_the_host_cannot_reach_its_own_macvlan_container_without_a_shim():
    result = Simulator(lan_host()).run(flow(HOST, "10.99.0.50"))
    assert result.verdict == "deny"
    assert "cannot reach its own macvlan children" in result.reason


def test_the_wan_routed_through_the_host_cannot_reach_it_without_a_shim():
    assert Simulator(lan_host()).run(flow(WAN, "10.99.0.50")).verdict == "deny"


def test_a_shim_carries_the_host_and_the_wan_to_the_container_through_the_hosts_chains():
    assert Simulator(lan_host(shim=True)).run(flow(HOST, "10.99.0.50")).verdict == "allow"
    assert Simulator(lan_host(shim=True)).run(flow(WAN, "10.99.0.50")).verdict == "allow"
    assert Simulator(lan_host(DROP_ALL, shim=True)).run(flow(WAN, "10.99.0.50")).verdict == "deny"


def test_a_macvlan_container_reaches_a_lan_peer_on_its_parents_link():
    assert Simulator(lan_host(DROP_ALL)).run(flow(PIHOLE, "10.99.0.2")).verdict == "allow"


def test_a_macvlan_container_reaches_the_host_only_through_a_shim():
    assert Simulator(lan_host()).run(flow(PIHOLE, "10.99.0.1", 8000)).verdict == "deny"
    assert Simulator(lan_host(shim=True)).run(flow(PIHOLE, "10.99.0.1", 8000)).verdict == "allow"


def test_arp_ignore_keeps_the_shim_from_answering_for_the_parents_address():
    host = lan_host(shim=True)
    host = dataclasses.replace(host, sysctls=host.sysctls + (("net.ipv4.conf.all.arp_ignore",
                                                               "1"),))
    assert Simulator(host).run(flow(PIHOLE, "10.99.0.1", 8000)).verdict == "deny"


def test_bridge_mode_siblings_talk_and_vepa_siblings_depend_on_the_switch():
    two = ("10.99.0.50", "10.99.0.51")
    assert Simulator(lan_host(children=two)).run(flow(PIHOLE, "10.99.0.51")).verdict == "allow"
    vepa = lan_host(children=two, options=(("parent", "eth0"), ("macvlan_mode", "vepa")))
    result = Simulator(vepa).run(flow(PIHOLE, "10.99.0.51"))
    assert result.verdict == "uncertain"
    assert "VEPA" in result.reason


def test_ipvlan_l2_children_are_outside_the_host_firewall_like_macvlan():
    """From drivers/net/ipvlan/ipvlan_core.c, not lab-proven (no CONFIG_IPVLAN here)."""
    host = lan_host(DROP_ALL, driver="ipvlan")
    assert Simulator(host).run(flow(LAN, "10.99.0.50")).verdict == "allow"
    assert Simulator(host).run(flow(HOST, "10.99.0.50")).verdict == "deny"


def _two_networks(internal_first: bool, priority: int = 0) -> HostModel:
    host = docker_host()
    back = Network("n-back", "backend", bridge="br-back", subnets=(ip.ip_network("10.88.0.0/24"),),
                   gateways=(ip.ip_address("10.88.0.1"),), internal=internal_first)
    front = Network("n-front", "frontend", bridge="br-front",
                    subnets=(ip.ip_network("10.77.0.0/24"),),
                    gateways=(ip.ip_address("10.77.0.1"),))
    multi = Container("id-multi", "/multi", endpoints=(
        ContainerEndpoint("backend", ip.ip_interface("10.88.0.20/24"),
                          gateway4=ip.ip_address("10.88.0.1"), gw_priority=priority),
        ContainerEndpoint("frontend", ip.ip_interface("10.77.0.20/24"),
                          gateway4=ip.ip_address("10.77.0.1"))))
    docker = dataclasses.replace(host.docker, containers=(multi,),
                                 networks=host.docker.networks + (back, front))
    return HostModel(dataclasses.replace(host, docker=docker))


def _route(model: HostModel, dst: str) -> str:
    first = next(a for a in model.attachments if a.container.name == "/multi")
    return model.container_route(first, ip.ip_address(dst)).endpoint.network


def test_a_container_on_an_internal_and_a_normal_network_routes_out_by_the_normal_one():
    model = _two_networks(internal_first=True)
    assert _route(model, "198.51.100.2") == "frontend"
    assert _route(model, "10.88.0.10") == "backend"  # the connected route


def test_the_default_route_follows_gw_priority_then_the_network_name():
    assert _route(_two_networks(False), "198.51.100.2") == "backend"
    assert _route(_two_networks(False, priority=-1), "198.51.100.2") == "frontend"


def _link_local_host():
    host = docker_host(sockets=(Socket("tcp", ip.ip_address("::"), 8000, "busybox"),))
    lls = {"eth0": "fe80::a/64", "eth1": "fe80::b/64"}
    ifaces = tuple(dataclasses.replace(i, addresses=i.addresses + (
        Address(ip.ip_interface(lls[i.name]), "link"),)) if i.name in lls else i
        for i in host.interfaces)
    routes = host.routes + tuple(r for dev, a in lls.items() for r in (
        Route(ip.ip_network("fe80::/64"), dev=dev),
        Route(ip.ip_network(a.split("/")[0]), "local", "local", dev)))
    return dataclasses.replace(host, interfaces=ifaces, routes=routes)


def test_a_link_local_reply_leaves_by_the_interface_the_connection_came_in_by():
    """Every interface has its own fe80::/64: the reply to fe80::2 on eth1 must not take eth0's
    (issue 25: it answered DENY 'reply goes to interface eth0')."""
    flow = Flow("ll", Endpoint(iface="eth1", src=ip.ip_address("fe80::2")),
                ip.ip_address("fe80::b"), 8000)
    assert Simulator(_link_local_host()).run(flow).verdict == "allow"


def _libvirt_host(tables=()):
    """docker_host plus virbr0 192.168.122.1/24 (no Docker network owns it) with port vnet0."""
    host = docker_host(tables, HOST_SVC)
    ifaces = host.interfaces + (
        Interface("virbr0", 10, "bridge", mac="02:00:00:00:00:10",
                  addresses=(Address(ip.ip_interface("192.168.122.1/24")),)),
        Interface("vnet0", 11, "veth", master="virbr0"))
    routes = host.routes + (
        Route(ip.ip_network("192.168.122.0/24"), dev="virbr0",
              prefsrc=ip.ip_address("192.168.122.1")),
        Route(ip.ip_network("192.168.122.1/32"), "local", "local", "virbr0"))
    return dataclasses.replace(host, interfaces=ifaces, routes=routes)


VM = Endpoint(iface="virbr0", src=ip.ip_address("192.168.122.50"))


def test_a_host_behind_a_plain_bridge_is_assumed_to_answer_and_said_so():
    """issue 24 class 15 (lab: plain_bridge-open): it was 'nobody answers ARP'."""
    result = Simulator(_libvirt_host()).run(flow(LAN, "192.168.122.50"))
    assert result.verdict == "allow"
    assert any("plain bridge virbr0" in a and "assumed to exist" in a
               for a in result.assumptions)


def test_a_host_behind_a_plain_bridge_reaches_the_host_and_its_answers_come_back():
    assert Simulator(_libvirt_host()).run(flow(VM, "192.168.122.1", 8000)).verdict == "allow"


def test_the_hosts_forward_chain_still_decides_what_enters_the_plain_bridge():
    result = Simulator(_libvirt_host(DROP_ALL)).run(flow(LAN, "192.168.122.50"))
    assert result.verdict == "deny" and "FORWARD" in result.reason
