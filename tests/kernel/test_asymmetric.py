"""Asymmetric paths (issue 25): a client whose packets come in on eth0 while the host's route
back to it leaves by eth1 (its default route), under rp_filter 0, 1 and 2, as
net/ipv4/fib_frontend.c fib_validate_source / __fib_validate_source decide; and the host's own
connection to such a peer, whose answer the model takes to come back the way its route goes.
Lab-proven by the `asymmetric` scenario (tests/fixtures/lab/asymmetric-*)."""

from __future__ import annotations

import ipaddress as ip
from dataclasses import replace

import pytest

from nflens.ir.host import Route, Socket
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import docker_host

PEER = ip.ip_address("203.0.113.5")  # behind the LAN, reached by the host via the WAN


def _host(rp: str, eth0_addr: bool = True):
    sysctls = tuple((f"net.ipv4.conf.{d}.rp_filter", rp) for d in ("all", "eth0", "eth1"))
    host = docker_host(sockets=(Socket("tcp", ip.ip_address("0.0.0.0"), 22, "sshd"),),
                       sysctls=sysctls)
    default = Route(ip.ip_network("0.0.0.0/0"), dev="eth1",
                    gateway=ip.ip_address("198.51.100.2"))
    routes = tuple(r for r in host.routes if eth0_addr or r.dev != "eth0") + (default,)
    ifaces = tuple(replace(i, addresses=()) if i.name == "eth0" and not eth0_addr else i
                   for i in host.interfaces)
    return replace(host, routes=routes, interfaces=ifaces)


def _inbound(host, dst: str = "10.99.0.1", port: int = 22):
    flow = Flow("peer-in", Endpoint(iface="eth0", src=PEER), ip.ip_address(dst), port)
    return Simulator(host).run(flow)


@pytest.mark.parametrize("rp", ["0", "2"])
def test_answer_leaving_by_another_uplink_is_uncertain_naming_the_network_beyond(rp):
    """rp_filter off or loose accepts the packet; the answer leaves by eth1. Whether the
    client gets it there is not in any snapshot (before: a confident deny, "the answer goes
    to interface eth1")."""
    res = _inbound(_host(rp))
    assert res.verdict == "uncertain", res.reason
    assert any("network beyond" in w and "eth1" in w and "eth0" in w
               for w in res.uncertain_because)


def test_strict_rp_filter_drops_the_asymmetric_client_for_certain():
    res = _inbound(_host("1"))
    assert res.verdict == "deny"
    assert "rp_filter=1" in res.reason


def test_loose_rp_filter_drops_it_when_the_input_device_has_no_ipv4_address():
    """__fib_validate_source: `if (no_addr) goto last_resort;` precedes `if (rpf == 1)`,
    and last_resort refuses with any rp_filter: loose mode is strict on an address-less
    device. The model let it through (rp_filter=2 was only ever checked for a route)."""
    res = _inbound(_host("2", eth0_addr=False), dst="198.51.100.1")
    assert res.verdict == "deny", res.reason
    assert "no IPv4 address" in res.reason
    assert _inbound(_host("0", eth0_addr=False), dst="198.51.100.1").verdict == "uncertain"


def test_hosts_own_connection_assumes_the_answer_comes_back_by_its_route_under_strict():
    """The host connects to the peer through eth1; with rp_filter=1 on eth0 an answer the
    network beyond sends in there is dropped. The model takes the routes as the truth (allow)
    and says so in the assumptions; with rp_filter 0 or 2 that does not matter, nothing said."""
    flow = Flow("host-peer", Endpoint(host=True), PEER, 80)
    strict = Simulator(_host("1")).run(flow)
    assert strict.verdict == "allow"
    assert any(a.startswith("assumed:") and "comes back in on eth1" in a and "eth0" in a
               for a in strict.assumptions)
    loose = Simulator(_host("2")).run(flow)
    assert loose.verdict == "allow"
    assert not any("comes back in on" in a for a in loose.assumptions)


def test_an_interface_the_snapshot_does_not_list_is_taken_to_have_an_address():
    host = _host("2", eth0_addr=False)
    assert not Simulator(host).model.has_ipv4("eth0")
    assert Simulator(host).model.has_ipv4("nonexistent")


def test_a_route_through_a_device_without_carrier_is_used_and_the_packet_lost():
    """NO-CARRIER (up, no link): with ignore_routes_with_linkdown=0 the kernel keeps the
    route and the connection times out (tests/lab/test_lab_no_carrier.py); the model sent it
    to a peer that answered."""
    host = _host("0")
    host = replace(host, interfaces=tuple(replace(i, carrier=False) if i.name == "eth1" else i
                                          for i in host.interfaces))
    res = Simulator(host).run(Flow("host-wan", Endpoint(host=True),
                                   ip.ip_address("198.51.100.2"), 80))
    assert res.verdict == "deny"
    assert "no carrier" in res.reason
    assert Simulator(_host("0")).run(Flow("host-wan", Endpoint(host=True),
                                          ip.ip_address("198.51.100.2"), 80)).verdict == "allow"
