"""parse_json: libnftables-json dumps into the IR (libnftables-json(5))."""

from __future__ import annotations

import ipaddress
import json

import pytest

from nflens.dialects.nft import parse_json
from nflens.dialects.nft.priorities import priority_value
from nflens.errors import ParseError
from nflens.ir.rules import Action, NftCmp, NftExpr
from tests.conftest import SHARED

IP = ipaddress.ip_address


def dump(*objs) -> str:
    head = [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}]
    return json.dumps({"nftables": head + list(objs)})


T = {"table": {"family": "inet", "name": "fw", "handle": 1}}
BASE = {"chain": {"family": "inet", "table": "fw", "name": "in", "handle": 1, "type": "filter",
                  "hook": "input", "prio": 0, "policy": "drop"}}


def rule(*stmts, chain="in", **kw):
    return {"rule": {"family": "inet", "table": "fw", "chain": chain, "handle": 9,
                     "expr": list(stmts), **kw}}


def only_rule(*stmts, **kw):
    rs = parse_json(dump(T, BASE, rule(*stmts, **kw)), "x.json")
    return rs, rs.tables[0].chains[0].rules[0]


def test_base_chain_keeps_hook_priority_policy_and_type():
    rs = parse_json(dump(T, BASE), "x.json")
    chain = rs.table("inet", "fw").chain("in")
    assert (chain.hook, chain.priority, chain.policy, chain.type) == ("input", 0, "drop", "filter")
    assert rs.dialect == "nft-json" and rs.tables[0].origin == "nft"


@pytest.mark.parametrize("spec,family,number", [
    ("filter", "ip", 0), ("dstnat", "inet", -100), ("srcnat + 5", "ip", 105),
    ("filter - 10", "ip6", -10), ("raw", "ip", -300), ("mangle", "ip", -150),
    ("security", "ip", 50), ("filter", "bridge", -200), ("dstnat", "bridge", -300),
    ("out", "bridge", 100), ("srcnat", "bridge", 300), ("-5", "ip", -5), (7, "ip", 7)])
def test_named_priorities_map_to_nft8_numbers(spec, family, number):
    assert priority_value(spec, family) == number


def test_rules_keep_their_order_and_counters_and_comment():
    rs = parse_json(dump(T, BASE,
                         rule({"counter": {"packets": 3, "bytes": 180}}, {"accept": None},
                              comment="first"),
                         rule({"drop": None})), "x.json")
    rules = rs.tables[0].chains[0].rules
    assert [r.exprs[-1].name for r in rules] == ["accept", "drop"]
    assert rules[0].counters == (3, 180) and rules[0].comment == "first"
    assert rules[0].source.line == 4 and rules[0].source.file == "x.json"
    assert rules[0].source.text == 'counter packets 3 bytes 180 accept comment "first"'


def test_match_becomes_nftcmp_over_nftexpr():
    _, r = only_rule({"match": {"op": "==", "left": {"payload": {"protocol": "tcp",
                                                                  "field": "dport"}},
                                "right": 22}}, {"accept": None})
    assert r.exprs[0] == NftCmp("==", NftExpr("payload", (("field", "dport"),
                                                         ("protocol", "tcp"))), 22)
    assert r.source.text == "tcp dport 22 accept"


def test_dnat_has_address_and_port_ranges():
    _, r = only_rule({"dnat": {"addr": "192.168.0.2", "port": 80, "family": "ip"}})
    assert r.exprs[0] == Action("dnat", (("addr", (IP("192.168.0.2"), IP("192.168.0.2"))),
                                         ("family", "ip"), ("port", (80, 80))))


def test_masquerade_with_port_range_and_flags():
    _, r = only_rule({"masquerade": {"port": {"range": [1024, 2048]}, "flags": "random"}})
    assert r.exprs[0].get("port") == (1024, 2048) and r.exprs[0].get("flags") == ("random",)


@pytest.mark.parametrize("value,mask,expected", [
    (7, None, (0xFFFFFFFF, 7)),
    ({"|": [{"&": [{"meta": {"key": "mark"}}, 0xFFFF00FF]}, 0x100]}, None, (0xFF00, 0x100)),
    ({"^": [{"meta": {"key": "mark"}}, 1]}, None, (0, 1)),
])
def test_meta_mark_set_becomes_mark_value_mask(value, mask, expected):
    _, r = only_rule({"mangle": {"key": {"meta": {"key": "mark"}}, "value": value}})
    got = (r.exprs[0].name, r.exprs[0].get("mask"), r.exprs[0].get("value"))
    assert got == ("mark",) + expected


def test_ct_mark_set_is_connmark():
    _, r = only_rule({"mangle": {"key": {"ct": {"key": "mark"}},
                                 "value": {"meta": {"key": "mark"}}}})
    assert r.exprs[0] == Action("connmark", (("mode", "save"),))


@pytest.mark.parametrize("body,family,expected", [
    (None, "inet", "icmpx port-unreachable"), ({"type": "tcp reset"}, "inet", "tcp-reset"),
    ({"type": "icmp", "expr": "host-unreachable"}, "inet", "icmp-host-unreachable")])
def test_reject_with(body, family, expected):
    _, r = only_rule({"reject": body})
    assert r.exprs[0] == Action("reject", (("with", expected),))


def test_vmap_keeps_key_and_data():
    _, r = only_rule({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@jumps"}})
    assert r.exprs[0] == Action("vmap", (("data", "@jumps"),
                                         ("key", NftExpr("meta", (("key", "iifname"),)))))


def test_named_map_with_verdicts_becomes_namedset():
    m = {"map": {"family": "inet", "table": "fw", "name": "jumps", "type": "ifname",
                 "map": "verdict", "elem": [["br0", {"jump": {"target": "in"}}]]}}
    rs = parse_json(dump(T, BASE, m))
    nset = rs.tables[0].sets[0]
    assert nset.is_map and nset.map_type == "verdict"
    assert nset.elements == (("br0", Action("jump", (("chain", "in"),))),)


def test_xt_and_unknown_statements_are_kept_and_reported():
    rs, r = only_rule({"xt": {"type": "match", "name": "addrtype"}},
                      {"frobnicate": {"x": 1}}, {"xt": {"type": "target", "name": "DNAT"}})
    assert r.exprs[0] == NftExpr("xt", (("name", "addrtype"), ("type", "match")))
    assert r.exprs[1].name == "unknown:frobnicate"
    assert r.exprs[2] == Action("xt", (("name", "DNAT"), ("type", "target")))
    assert [u.line for u in rs.unsupported] == [4, 4, 4]
    assert all(u.text.startswith('{"rule":') for u in rs.unsupported)


def test_limit_is_a_match_like_expression():
    rs, r = only_rule({"limit": {"rate": 5, "per": "second"}}, {"accept": None})
    assert isinstance(r.exprs[0], NftExpr) and r.exprs[0].kind == "limit"
    assert rs.unsupported


@pytest.mark.parametrize("text,line", [
    ("{not json", 1), ('{\n"nftables": [\n}', 3), ("[1, 2]", 1), ('{"rules": []}', 1),
    ("*filter\n:INPUT ACCEPT\nCOMMIT\n", 1)])
def test_malformed_or_wrong_dialect_is_a_parse_error_with_a_line(text, line):
    with pytest.raises(ParseError) as err:
        parse_json(text, "bad.json")
    assert err.value.line == line and str(err.value).startswith(f"bad.json:{line}:")


def test_bad_object_names_its_position():
    with pytest.raises(ParseError) as err:
        parse_json(dump(T, {"chain": {"family": "inet", "table": "fw"}}), "bad.json")
    assert err.value.line == 3 and "name" in err.value.message


def test_unknown_family_is_an_error():
    with pytest.raises(ParseError):
        parse_json(dump({"table": {"family": "ipx", "name": "t"}}))


SNAPSHOT = SHARED / "examples" / "snapshot-example" / "nft.json"


@pytest.mark.skipif(not SNAPSHOT.exists(), reason="../shared example snapshot is not present")
def test_shared_snapshot_parses_and_reports_its_xt_expressions():
    rs = parse_json(SNAPSHOT.read_text(), "nft.json")
    doc = json.loads(SNAPSHOT.read_text())["nftables"]
    assert rs.rule_count() == sum(1 for o in doc if "rule" in o)
    xt = [o for o in doc if "rule" in o and any("xt" in s for s in o["rule"]["expr"])]
    assert {u.line for u in rs.unsupported} == {doc.index(o) + 1 for o in xt}
    assert all("xt" in u.what for u in rs.unsupported)
