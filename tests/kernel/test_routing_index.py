"""The indexed FIB answers exactly what a full scan in the kernel's order answers.

The reference is the definition (fib_trie's choice): among the routes of the table whose
prefix contains the destination, the longest prefix, then the lowest metric, then dump order;
a unicast route on another device than a forced output device does not fit.
"""

from __future__ import annotations

import ipaddress as ip

from hypothesis import given, settings
from hypothesis import strategies as st

from nflens.ir.host import PolicyRule, Route
from nflens.kernel.routing import Fib

DEVS = ("eth0", "eth1", "br-a", None)
TYPES = ("unicast", "local", "broadcast", "throw", "blackhole")


def reference(routes, table, dst, oif):
    """The kernel's choice by a full scan (what routing.py did before the index)."""
    fitting = [r for r in sorted((r for r in routes if r.table == table),
                                 key=lambda r: (-r.dst.prefixlen, r.metric))
               if r.dst.version == dst.version and dst in r.dst
               and not (oif is not None and r.dev not in (None, oif) and r.type == "unicast")]
    return fitting[0] if fitting else None


@st.composite
def route(draw, family):
    bits = 32 if family == 4 else 128
    plen = draw(st.integers(0, bits))
    # few distinct networks, so prefixes overlap and ties in length and metric happen
    base = draw(st.sampled_from((0x0A000000, 0x0A630000, 0xC6336400))) if family == 4 else \
        draw(st.sampled_from((0xFE80 << 112, 0x20010DB8 << 96)))
    noise = draw(st.integers(0, 2 ** min(12, bits) - 1)) << (bits - min(bits, 12) - 8) \
        if bits > 20 else 0
    cls = ip.IPv4Network if family == 4 else ip.IPv6Network
    net = cls(((base | noise) & (((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)), plen))
    return Route(net, draw(st.sampled_from(TYPES)), draw(st.sampled_from(("main", "local"))),
                 draw(st.sampled_from(DEVS)), metric=draw(st.sampled_from((0, 100, 256))))


def near(r: Route):
    """A destination inside or just outside a route's prefix."""
    return st.sampled_from((r.dst.network_address, r.dst.broadcast_address,
                            r.dst.network_address - 1 if int(r.dst.network_address) else
                            r.dst.network_address))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.sampled_from((4, 6)).flatmap(lambda f: st.lists(route(f), min_size=1, max_size=30)),
       st.data(), st.sampled_from(DEVS))
def test_indexed_lookup_is_the_full_scan(routes, data, oif):
    dst = data.draw(st.sampled_from(routes).flatmap(near))
    fib = Fib(tuple(routes), ())
    for table in ("main", "local"):
        assert fib._in_table(table, dst, oif) == reference(routes, table, dst, oif)
    # and through the policy rules (local, then main), twice: the memo answers the same
    expect = next((r for r in (reference(routes, t, dst, oif) for t in ("local", "main"))
                   if r is not None and r.type != "throw"), None)
    for _ in range(2):
        got = fib.lookup(dst, oif=oif)
        assert got.route == expect
        assert got.type == (expect.type if expect else "none")


def test_many_routes_one_lookup():
    """A host with a thousand veth routes: the 10.0.0.0/8 route still wins for 10.1.2.3."""
    routes = [Route(ip.ip_network(f"fe80::{i:x}:0/112"), dev=f"veth{i}") for i in range(1000)]
    routes += [Route(ip.ip_network("10.0.0.0/8"), dev="eth0"),
               Route(ip.ip_network("0.0.0.0/0"), dev="eth1", gateway=ip.ip_address("1.2.3.4")),
               Route(ip.ip_network("10.1.2.3/32"), "local", "local", "eth0")]
    fib = Fib(tuple(routes), (PolicyRule(32766, "main"),))
    assert fib.lookup(ip.ip_address("10.1.2.3")).route.dev == "eth0"
    assert fib.lookup(ip.ip_address("11.0.0.1")).route.dev == "eth1"
    assert fib.lookup(ip.ip_address("fe80::5:1")).route.dev == "veth5"
