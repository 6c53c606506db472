"""NAT, conntrack and forwarding paths on a Docker-shaped host (rules without matches)."""

from __future__ import annotations

import ipaddress as ip

from nflens.ir.packet import Endpoint, Flow
from nflens.ir.rules import Action, Table
from nflens.kernel.simulate import Simulator
from nflens.kernel.trace import NatStep
from tests.kernel.hosts import base, docker_host, rule

DNAT = Action("dnat", (("addr", (ip.ip_address("172.17.0.2"),) * 2), ("port", (80, 80))))


def nat_table(*extra):
    return Table("ip", "nat", (base("PREROUTING", "prerouting", -100, rule(DNAT), type_="nat"),
                               *extra))


def wan(port=8080):
    return Flow("w", Endpoint(iface="eth1", src=ip.ip_address("198.51.100.2")),
                ip.ip_address("198.51.100.1"), port)


def test_dnat_sends_the_packet_through_forward_not_input():
    filt = Table("ip", "filter", (base("INPUT", "input", 0, policy="drop"),))
    result = Simulator(docker_host((nat_table(), filt))).run(wan())
    assert result.verdict == "allow"
    decisions = [s.decision for s in result.steps if getattr(s, "kind", "") == "route"
                 and s.direction == "original"]
    hooks = [s.hook for s in result.steps if getattr(s, "kind", "") == "hook"]
    assert decisions[0] == "forward" and "input" not in hooks


def test_forward_drop_denies_a_published_port():
    filt = Table("ip", "filter", (base("FORWARD", "forward", 0, policy="drop"),))
    result = Simulator(docker_host((nat_table(), filt))).run(wan())
    assert result.verdict == "deny"
    assert result.stopped_policy[2] == "FORWARD"


def test_the_reply_is_un_natted_by_conntrack_without_a_nat_chain():
    result = Simulator(docker_host((nat_table(),))).run(wan())
    reply_nat = [s for s in result.steps if isinstance(s, NatStep) and s.direction == "reply"]
    assert reply_nat and reply_nat[0].by == "conntrack"
    assert "198.51.100.1:8080" in reply_nat[0].after
    reply_nat_hooks = [s for s in result.steps if getattr(s, "kind", "") == "hook"
                       and s.direction == "reply" and s.table == "nat"]
    assert reply_nat_hooks == []


def test_masquerade_uses_the_outgoing_interface_address():
    post = Table("ip", "nat2", (base("POSTROUTING", "postrouting", 100,
                                     rule(Action("masquerade")), type_="nat"),))
    flow = Flow("e", Endpoint(container="shop"), ip.ip_address("198.51.100.2"), 80)
    result = Simulator(docker_host((post,))).run(flow)
    assert result.verdict == "allow"
    snat = [s for s in result.steps if isinstance(s, NatStep) and s.direction == "original"]
    assert "198.51.100.1:40000" in snat[0].after


def test_forwarding_off_denies_routed_traffic():
    host = docker_host((nat_table(),), sysctls=(("net.ipv4.ip_forward", "0"),))
    assert Simulator(host).run(wan()).verdict == "deny"


def test_127_0_0_1_from_outside_is_a_martian_unless_route_localnet():
    flow = Flow("m", Endpoint(iface="eth0", src=ip.ip_address("10.99.0.2")),
                ip.ip_address("127.0.0.1"), 8080)
    assert Simulator(docker_host()).run(flow).verdict == "deny"


def test_masquerade_picks_the_address_of_the_gateways_subnet_not_the_first_one():
    """Issue 24.9: with two subnets on the WAN interface and the default route via a gateway in
    the second, MASQUERADE takes the second address: nf_nat_masquerade_ipv4 selects for the
    route's next hop (inet_select_addr(out, rt_nexthop(rt, daddr), ...)), not for the
    destination, which neither subnet holds (the old model fell back to the first address)."""
    import dataclasses

    from nflens.ir.host import Address, Route

    post = Table("ip", "nat2", (base("POSTROUTING", "postrouting", 100,
                                     rule(Action("masquerade")), type_="nat"),))
    host = docker_host((post,))
    second = Address(ip.ip_interface("203.0.113.1/24"))
    ifaces = tuple(dataclasses.replace(i, addresses=i.addresses + (second,))
                   if i.name == "eth1" else i for i in host.interfaces)
    routes = host.routes + (
        Route(ip.ip_network("203.0.113.0/24"), dev="eth1", prefsrc=ip.ip_address("203.0.113.1")),
        Route(ip.ip_network("203.0.113.1/32"), "local", "local", "eth1"),
        Route(ip.ip_network("0.0.0.0/0"), dev="eth1", gateway=ip.ip_address("203.0.113.254")))
    host = dataclasses.replace(host, interfaces=ifaces, routes=routes)
    flow = Flow("e", Endpoint(container="shop"), ip.ip_address("192.0.2.9"), 80)
    result = Simulator(host).run(flow)
    snat = [s for s in result.steps if isinstance(s, NatStep) and s.direction == "original"]
    assert snat and "203.0.113.1:" in snat[0].after, snat
