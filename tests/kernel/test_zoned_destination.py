"""A host's own connection to a zoned IPv6 destination (`fe80::2%eth1`, as ss prints a
link-local peer; issue 25): tcp_v6_connect binds the socket to the zone's interface
(sk_bound_dev_if), so the route is that interface's fe80::/64 and the source its link-local
address; every interface has an fe80::/64, and the model used to take the first one."""

from __future__ import annotations

import ipaddress as ip
from dataclasses import replace

import pytest

from nflens.errors import FlowError, ParseError
from nflens.flows import flow_from_dict, parse_to
from nflens.ir.host import Address, Route
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import docker_host

LL = {"eth0": "fe80::1", "eth1": "fe80::a"}


def _host():
    host = docker_host()
    ifaces = tuple(replace(i, addresses=i.addresses + (
        Address(ip.ip_interface(f"{LL[i.name]}/64"), "link"),)) if i.name in LL else i
        for i in host.interfaces)
    routes = tuple(Route(ip.ip_network("fe80::/64"), dev=d, metric=256) for d in LL) + tuple(
        Route(ip.ip_network(f"{a}/128"), "local", "local", d) for d, a in LL.items())
    return replace(host, interfaces=ifaces, routes=host.routes + routes)


def _run(dst: str, zone: str | None = None):
    return Simulator(_host()).run(Flow("host-ll", Endpoint(host=True), ip.ip_address(dst), 22,
                                       zone=zone))


def _route_steps(res) -> list[str]:
    return [str(s) for s in res.steps if "fe80::/64" in str(s)]


def test_the_zone_picks_the_interface_the_connection_leaves_by():
    for dev in ("eth0", "eth1"):
        res = _run("fe80::2", dev)
        assert res.verdict == "allow", res.reason
        steps = _route_steps(res)
        assert steps and all(f"dev {dev}" in s for s in steps), steps
        assert f"{LL[dev]}" in str(res.steps[0]), res.steps[0]  # the zone's own source


def test_a_zone_left_in_the_address_is_taken_as_the_zone():
    res = Simulator(_host()).run(Flow("host-ll", Endpoint(host=True),
                                      ip.ip_address("fe80::2%eth1"), 22))
    assert all("dev eth1" in s for s in _route_steps(res)) and _route_steps(res)


def test_a_link_local_destination_without_a_zone_is_refused_as_connect_refuses_it():
    with pytest.raises(FlowError, match="EINVAL"):
        Simulator(_host()).validate(Flow("x", Endpoint(host=True), ip.ip_address("fe80::2"),
                                         22))
    with pytest.raises(FlowError, match="unknown interface"):
        Simulator(_host()).validate(Flow("x", Endpoint(host=True), ip.ip_address("fe80::2"),
                                         22, zone="eth9"))


def test_a_zone_on_a_global_address_is_not_looked_at():
    """tcp_v6_connect reads sin6_scope_id only for a link-local address."""
    plain = Simulator(_host()).run(Flow("g", Endpoint(host=True),
                                        ip.ip_address("2001:db8::1"), 22))
    zoned = Simulator(_host()).run(Flow("g", Endpoint(host=True),
                                        ip.ip_address("2001:db8::1"), 22, zone="eth0"))
    assert (plain.verdict, plain.reason) == (zoned.verdict, zoned.reason)


def test_flows_file_and_trace_spellings_carry_the_zone():
    flow = flow_from_dict({"from": {"host": True}, "to": {"addr": "fe80::2%eth1", "port": 22}},
                          "flows.json: flow 1", 3)
    assert (flow.dst, flow.zone) == (ip.ip_address("fe80::2"), "eth1")
    assert "fe80::2%eth1" in flow.name
    addr, port, proto = parse_to("[fe80::2%eth1]:22/tcp")
    assert (str(addr), port, proto) == ("fe80::2%eth1", 22, "tcp")
    with pytest.raises(ParseError):
        flow_from_dict({"from": {"host": True}, "to": {"addr": "10.0.0.1%eth1", "port": 22}},
                       "flows.json: flow 1", 3)


def test_a_zone_on_a_flow_that_does_not_start_on_the_host_is_refused():
    with pytest.raises(FlowError, match="zone"):
        Simulator(_host()).validate(Flow("x", Endpoint(iface="eth1", src=ip.ip_address(
            "fe80::2")), ip.ip_address("fe80::a"), 22, zone="eth1"))
