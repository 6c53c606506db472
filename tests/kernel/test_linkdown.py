"""ignore_routes_with_linkdown (issue 25): a next hop whose device lost its carrier is flagged
`linkdown` by the kernel (RTNH_F_LINKDOWN) and, with the sysctl on for that device, skipped by
fib_table_lookup (net/ipv4/fib_trie.c fib_lookup_good_nhc): the lookup takes the next route,
else a shorter prefix. The reverse-path lookups pass FIB_LOOKUP_IGNORE_LINKSTATE and still see
it. Lab: tests/lab/test_lab_no_carrier.py."""

from __future__ import annotations

import ipaddress as ip
from dataclasses import replace

from nflens.ir.host import Route
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.routing import Fib
from nflens.kernel.simulate import Simulator
from nflens.snapshot.hostfiles import routes
from tests.kernel.hosts import docker_host

PEER = ip.ip_address("10.5.0.2")
CONNECTED = Route(ip.ip_network("10.5.0.0/24"), dev="eth1", linkdown=("eth1",))
WIDER = Route(ip.ip_network("10.5.0.0/16"), dev="eth0", gateway=ip.ip_address("10.6.0.2"))


def test_a_linkdown_route_is_skipped_for_a_shorter_prefix_when_its_device_ignores_it():
    fib = Fib((CONNECTED, WIDER), (), frozenset({(4, "eth1")}))
    res = fib.lookup(PEER)
    assert (res.oif, res.gateway) == ("eth0", ip.ip_address("10.6.0.2"))


def test_the_linkdown_route_is_kept_without_the_sysctl_or_when_link_state_is_ignored():
    assert Fib((CONNECTED, WIDER), ()).lookup(PEER).oif == "eth1"
    on_other = Fib((CONNECTED, WIDER), (), frozenset({(4, "eth0")}))
    assert on_other.lookup(PEER).oif == "eth1"  # the next hop's own device decides
    ignoring = Fib((CONNECTED, WIDER), (), frozenset({(4, "eth1")}))
    assert ignoring.lookup(PEER, linkstate=False).oif == "eth1"  # fib_validate_source


def test_a_multipath_route_loses_only_its_linkdown_hop():
    gw1, gw2 = ip.ip_address("10.5.0.9"), ip.ip_address("10.6.0.2")
    multi = Route(ip.ip_network("0.0.0.0/0"), dev="eth1", gateway=gw1,
                  nexthops=(("eth1", gw1), ("eth0", gw2)), linkdown=("eth1",))
    res = Fib((multi,), (), frozenset({(4, "eth1")})).lookup(ip.ip_address("192.0.2.1"))
    assert (res.oif, res.gateway) == ("eth0", gw2)
    assert res.route is not None and res.route.nexthop_devs == ("eth0",)


def test_ip_route_flags_give_the_linkdown_devices():
    data = [{"dst": "10.5.0.0/24", "dev": "eth1", "flags": ["dead", "linkdown"]},
            {"dst": "default", "flags": [], "nexthops": [
                {"gateway": "10.5.0.9", "dev": "eth1", "flags": ["linkdown"]},
                {"gateway": "10.6.0.2", "dev": "eth0", "flags": []}]},
            {"dst": "10.6.0.0/24", "dev": "eth0", "flags": []}]
    assert [r.linkdown for r in routes(data, "ip-route.json", 4)] == [("eth1",), ("eth1",), ()]


def _host(sysctl: str | None):
    host = docker_host(sysctls=((sysctl, "1"),) if sysctl else ())
    down = tuple(replace(r, linkdown=("eth1",)) if r.dev == "eth1" and r.type == "unicast"
                 else r for r in host.routes)
    return replace(host, routes=down + (
        Route(ip.ip_network("0.0.0.0/0"), dev="eth1", gateway=ip.ip_address("198.51.100.2"),
              linkdown=("eth1",)),))


def test_the_sysctl_is_read_from_the_snapshot_all_or_the_device():
    for key in ("net.ipv4.conf.all.ignore_routes_with_linkdown",
                "net.ipv4.conf.eth1.ignore_routes_with_linkdown"):
        assert HostModel(_host(key)).route(ip.ip_address("198.51.100.2")).type == "none", key
    assert HostModel(_host(None)).route(ip.ip_address("198.51.100.2")).oif == "eth1"
    v6_only = "net.ipv6.conf.eth1.ignore_routes_with_linkdown"
    assert HostModel(_host(v6_only)).route(ip.ip_address("198.51.100.2")).oif == "eth1"


def test_the_hosts_own_connection_through_an_ignored_linkdown_route_is_unreachable():
    """With the route skipped and no other, ip_route_output fails (ENETUNREACH); before,
    the model routed it out of eth1."""
    res = Simulator(_host("net.ipv4.conf.all.ignore_routes_with_linkdown")).run(
        Flow("host-wan", Endpoint(host=True), ip.ip_address("198.51.100.2"), 80))
    assert res.verdict == "deny", res.reason
    assert "no route" in res.reason.lower() or "unreachable" in res.reason.lower(), res.reason
