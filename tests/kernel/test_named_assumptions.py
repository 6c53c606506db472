"""Silent defaults and guesses become named assumptions or Unknowns (issue 15 item 7): nothing
the input did not say is read as false, true, 0 or an invented address without a word."""

from __future__ import annotations

import ipaddress as ip
import json
from dataclasses import replace

import pytest

from nflens.dialects.ebtables import parse as parse_eb
from nflens.dialects.iptables import parse as parse_xt
from nflens.dialects.nft import parse_json
from nflens.errors import ParseError
from nflens.ir.packet import Endpoint, Flow, Packet
from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.matches import lookup
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import docker_host

BARE_CHAIN = {"nftables": [{"table": {"family": "inet", "name": "t"}},
                           {"chain": {"family": "inet", "table": "t", "name": "in",
                                      "hook": "input"}}]}


def test_an_nft_base_chain_without_prio_policy_type_names_each_default():
    rs = parse_json(json.dumps(BARE_CHAIN), "nft.json")
    chain = rs.tables[0].chains[0]
    assert (chain.priority, chain.policy, chain.type) == (0, "accept", "filter")
    said = [m for f, line, m in rs.warnings if f == "nft.json" and line == 2]
    assert any("priority 0" in m and "inet t in" in m for m in said), rs.warnings
    assert any("policy accept" in m for m in said) and any("type filter" in m for m in said)


def test_an_nft_base_chain_with_everything_stated_assumes_nothing():
    body = dict(BARE_CHAIN["nftables"][1]["chain"], prio=0, policy="drop", type="filter")
    rs = parse_json(json.dumps({"nftables": [BARE_CHAIN["nftables"][0], {"chain": body}]}))
    assert rs.warnings == ()


def test_the_lenience_levels_raise_at_once_or_at_the_end():
    from nflens.lenient import ErrorLevel, Lenience

    now = Lenience("f", ErrorLevel.IMMEDIATE)
    with pytest.raises(ParseError, match="f:3: assumed x 0"):
        now.assume("x", 0, 3)
    later = Lenience("f", ErrorLevel.RAISE)
    later.unsupported("a", 1)
    later.unsupported("b", 2)
    with pytest.raises(ParseError, match="f:1: a; b"):
        later.check()
    quiet = Lenience("f", ErrorLevel.IGNORE)
    assert quiet.assume("x", 5, 1) == 5 and quiet.messages == []


def _ctx(**kw) -> PacketContext:
    pkt = Packet(ip.ip_address("10.0.0.1"), ip.ip_address("10.0.0.2"), "tcp", 1000, 22)
    return PacketContext(pkt=pkt, family="ip", hook="output", env=HostModel(docker_host()),
                         ct=CtView("NEW"), **kw)


def test_an_unknown_option_of_the_builtin_ip_match_is_unknown_not_false():
    result = lookup("xt", "ip").evaluate(XtMatch("ip", (Opt("goto-bogus", True),)), _ctx())
    assert isinstance(result, Unknown) and "--goto-bogus" in result.reason


def test_an_unknown_owner_option_is_unknown_not_true():
    match = XtMatch("owner", (Opt("uid-owner", (0, 0)), Opt("cmd-owner", "sshd")))
    result = lookup("xt", "owner").evaluate(match, _ctx(uid=0, gid=0))
    assert isinstance(result, Unknown) and "--cmd-owner" in result.reason


def test_owner_supplementary_groups_are_unknown_when_the_primary_group_differs():
    rule = parse_xt("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner --gid-owner 10 "
                    "--suppl-groups -j DROP\nCOMMIT\n").tables[0].chains[0].rules[0]
    match = next(e for e in rule.exprs if isinstance(e, XtMatch) and e.name == "owner")
    owner = lookup("xt", "owner")
    assert owner.evaluate(match, _ctx(uid=5, gid=10)) is True
    assert isinstance(owner.evaluate(match, _ctx(uid=5, gid=20)), Unknown)


def test_a_container_mac_the_snapshot_lacks_is_unknown_to_ebtables_not_invented():
    host = docker_host()
    shop = host.docker.containers[0]
    shop = replace(shop, endpoints=(replace(shop.endpoints[0], mac=None),))
    rules = parse_eb("*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n"
                     "-A INPUT -s 02:42:00:00:00:00 -j DROP\n", "eb.rules")
    host = replace(host, ruleset=rules, docker=replace(host.docker, containers=(shop,)))
    flow = Flow("e", Endpoint(container="shop"), ip.ip_address("198.51.100.2"), 80)
    result = Simulator(host).run(flow)
    assert result.verdict == "uncertain"
    assert any("MAC address is not in the snapshot [eb.rules:5]" in u
               for u in result.uncertain_because)
