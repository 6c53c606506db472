"""Issue 24 class 10: NAT whose address or port comes from a map (kernel/natmap.py). Before,
the expression was parsed and then ignored: the packet kept its original address. The rules are
real `nft -j list ruleset` output (nft 1.0.6); tests/lab/test_lab_netfilter_decisions.py proves
the verdicts on the kernel."""

from __future__ import annotations

import ipaddress as ip
import json

from nflens.dialects import nft
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from nflens.kernel.trace import NatStep
from tests.kernel.hosts import docker_host

SADDR = {"payload": {"protocol": "ip", "field": "saddr"}}
DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}


def _host(*stmts, sets=()):
    objs = [{"table": {"family": "ip", "name": "n", "handle": 1}}, *sets,
            {"chain": {"family": "ip", "table": "n", "name": "pre", "handle": 2, "type": "nat",
                       "hook": "prerouting", "prio": -100, "policy": "accept"}}]
    objs += [{"rule": {"family": "ip", "table": "n", "chain": "pre", "handle": 3 + i,
                       "expr": [s]}} for i, s in enumerate(stmts)]
    rs = nft.parse_json(json.dumps({"nftables": objs}), "nft.json")
    return docker_host(rs.tables)


def _wan(src="198.51.100.2", port=8080):
    return Flow("w", Endpoint(iface="eth1", src=ip.ip_address(src)),
                ip.ip_address("198.51.100.1"), port)


def _dnat(result):
    return [s.after for s in result.steps if isinstance(s, NatStep)
            and s.direction == "original" and s.nat == "DNAT"]


def _map(key, *pairs):
    return {"map": {"key": key, "data": {"set": [list(p) for p in pairs]}}}


def test_dnat_to_an_address_map_takes_the_packets_element():
    host = _host({"dnat": {"addr": _map(SADDR, ("198.51.100.9", "172.17.0.9"),
                                        ("198.51.100.2", "172.17.0.2"))}})
    assert "172.17.0.2:8080" in _dnat(Simulator(host).run(_wan()))[0]


def test_a_concatenated_map_value_gives_address_and_port():
    host = _host({"dnat": {"family": "ip", "addr": _map(
        DPORT, (8080, {"concat": ["172.17.0.2", 80]}))}})
    result = Simulator(host).run(_wan())
    assert "172.17.0.2:80" in _dnat(result)[0]
    assert result.verdict == "allow"  # shop listens on 80 (docker_host)


def test_a_key_without_an_element_breaks_the_rule_no_nat():
    host = _host({"dnat": {"addr": _map(SADDR, ("198.51.100.9", "172.17.0.9"))}})
    assert _dnat(Simulator(host).run(_wan())) == []


def test_a_named_map_is_read_from_the_table():
    named = {"map": {"family": "ip", "name": "m", "table": "n", "type": "inet_service",
                     "handle": 9, "map": "ipv4_addr", "elem": [[8080, "172.17.0.2"]]}}
    host = _host({"dnat": {"addr": {"map": {"key": DPORT, "data": "@m"}}}}, sets=(named,))
    assert "172.17.0.2:8080" in _dnat(Simulator(host).run(_wan()))[0]


def test_redirect_to_a_mapped_port():
    host = _host({"redirect": {"port": _map(DPORT, (8080, 9999))}})
    assert any("198.51.100.1:9999" in a for a in _dnat(Simulator(host).run(_wan())))


def test_numgen_tries_every_element_and_is_uncertain_where_it_decides():
    numgen = {"numgen": {"mode": "inc", "mod": 2, "offset": 0}}
    # key 1 has no element: that connection is not NATed and meets no listener on the host
    host = _host({"dnat": {"family": "ip", "addr": _map(
        numgen, (0, {"concat": ["172.17.0.2", 80]}))}})
    result = Simulator(host).run(_wan())
    assert result.verdict == "uncertain"
    assert any("numgen" in why for why in result.uncertain_because)
    same = _host({"dnat": {"family": "ip", "addr": _map(
        numgen, (0, {"concat": ["172.17.0.2", 80]}), (1, {"concat": ["172.17.0.2", 80]}))}})
    assert Simulator(same).run(_wan()).verdict == "allow"
