"""-m rpfilter as the reverse FIB lookup of ipt_rpfilter.c: the source looked up as a
destination (iif lo, the packet's destination as source, the mark only with --validmark),
unicast only (local with --accept-local), through the input device unless --loose; loopback
and DHCP discovery always match; --invert flips it."""

from __future__ import annotations

import dataclasses
import ipaddress as ip

import pytest
from tests.kernel.hosts import docker_host

from nflens.dialects.iptables import parse
from nflens.ir.host import Address, PolicyRule, Route
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.matches import lookup
from nflens.kernel.region import NULL_HOST

XT = lookup("xt", "rpfilter")
BASE = docker_host()
# fwmark 1 routes 203.0.113.0/24 out of eth1 (table 100); without the mark there is no route
MARKED = HostModel(dataclasses.replace(
    BASE, routes=BASE.routes + (Route(ip.ip_network("203.0.113.0/24"), table="100",
                                      dev="eth1"),),
    policy_rules=(PolicyRule(0, "local"), PolicyRule(100, "100", fwmark=1, fwmask=0xFFFFFFFF),
                  PolicyRule(32766, "main"), PolicyRule(32767, "default"))))
HOST = HostModel(BASE)
# IPv6: 2001:db8:a::/64 on eth0 (the host is 2001:db8:a::1), 2001:db8:b::/64 on eth1
V6 = HostModel(dataclasses.replace(BASE, interfaces=tuple(
    dataclasses.replace(i, addresses=i.addresses + (Address(ip.ip_interface(
        "2001:db8:a::1/64")),)) if i.name == "eth0" else i for i in BASE.interfaces),
    routes=BASE.routes + (
        Route(ip.ip_network("2001:db8:a::/64"), dev="eth0"),
        Route(ip.ip_network("2001:db8:b::/64"), dev="eth1"),
        Route(ip.ip_network("2001:db8:a::1/128"), "local", "local", "eth0"))))


def _match(options: str) -> XtMatch:
    rule = parse(f"*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter {options} -j DROP"
                 "\nCOMMIT\n").tables[0].chains[0].rules[0]
    return next(e for e in rule.exprs if isinstance(e, XtMatch))


def _eval(options: str, src: str, iif: str, dst: str = "10.99.0.1", env=HOST, mark: int = 0):
    pkt = Packet(ip.ip_address(src), ip.ip_address(dst), "tcp", 40000, 22, mark=mark)
    ctx = PacketContext(pkt=pkt, family="ip", hook="prerouting", env=env, iif=iif,
                        ct=CtView("NEW"), mark=mark)
    return XT.evaluate(_match(options), ctx)


def test_rpfilter_is_parsed_as_modelled():
    rs = parse("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter -j DROP\nCOMMIT\n")
    assert rs.unsupported == ()


@pytest.mark.parametrize("src,iif,options,want", [
    ("10.99.0.5", "eth0", "", True),            # the route back is through eth0
    ("10.99.0.5", "eth1", "", False),           # asymmetric: strict fails
    ("10.99.0.5", "eth1", "--loose", True),     # any route will do
    ("10.99.0.5", "eth1", "--invert", True),
    ("10.99.0.5", "eth0", "--invert", False),
    ("8.8.8.8", "eth0", "--loose", False),      # no route at all: fib_lookup fails
    ("10.99.0.1", "eth0", "", False),           # RTN_LOCAL without --accept-local
    ("10.99.0.1", "eth0", "--accept-local", True),
    ("10.99.0.1", "eth1", "--accept-local", False),
    ("127.0.0.1", "lo", "", True),              # rpfilter_is_loopback
    ("10.99.0.5", "lo", "--invert", False),
])
def test_the_reverse_lookup(src, iif, options, want):
    assert _eval(options, src, iif) is want


def test_dhcp_discovery_from_zero_matches():
    assert _eval("", "0.0.0.0", "eth0", dst="255.255.255.255") is True
    assert _eval("", "0.0.0.0", "eth0", dst="10.99.0.1") is False


def test_validmark_makes_the_lookup_use_the_packets_mark():
    assert _eval("", "203.0.113.9", "eth1", env=MARKED, mark=1) is False  # mark not used
    assert _eval("--validmark", "203.0.113.9", "eth1", env=MARKED, mark=1) is True
    assert _eval("--validmark", "203.0.113.9", "eth0", env=MARKED, mark=1) is False


def _eval6(options: str, src: str, iif: str, dst: str = "2001:db8:a::1"):
    pkt = Packet(ip.ip_address(src), ip.ip_address(dst), "tcp", 40000, 22)
    ctx = PacketContext(pkt=pkt, family="ip6", hook="prerouting", env=V6, iif=iif)
    return XT.evaluate(_match(options), ctx)


@pytest.mark.parametrize("src,iif,options,want", [
    ("2001:db8:a::5", "eth0", "", True),
    ("2001:db8:a::5", "eth1", "", False),
    ("2001:db8:a::5", "eth1", "--loose", True),
    ("2001:db8:c::5", "eth0", "--loose", False),         # no route
    ("::", "eth0", "", True),                             # IPV6_ADDR_ANY
    ("2001:db8:a::1", "eth0", "", False),                 # RTF_LOCAL
    ("2001:db8:a::1", "eth1", "--accept-local", True),    # no device check for IPv6
])
def test_the_ipv6_reverse_lookup(src, iif, options, want):
    assert _eval6(options, src, iif) is want


def test_an_ipv6_link_local_source_is_named_uncertain():
    pkt = Packet(ip.ip_address("fe80::2"), ip.ip_address("fe80::1"), "tcp", 40000, 22)
    ctx = PacketContext(pkt=pkt, family="ip6", hook="prerouting", env=HOST, iif="eth0")
    r = XT.evaluate(_match(""), ctx)
    assert isinstance(r, Unknown) and "link-local" in r.reason


def test_symbolically_it_is_unknown_naming_the_route_lookup():
    pkt = Packet(ip.ip_address("0.0.0.0"), ip.ip_address("0.0.0.0"), "tcp", 40000, 22)
    ctx = PacketContext(pkt=pkt, family="ip", hook="prerouting", env=NULL_HOST, iif="eth0")
    region = XT.constrain(_match("--loose"), ctx)
    assert region.unknown and "rpfilter" in region.unknown[0]
