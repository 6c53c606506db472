"""-m set over `ipset save` contents (net/netfilter/xt_set.c, ipset/ip_set_core.c ip_set_test,
ip_set_hash_gen.h mtype_test_cidrs): the direction flags, `!`, nomatch carve-outs,
--return-nomatch, the family, too few flags, ports, bitmap:port's TCP/UDP only, list:set; and
the symbolic side: exactly the addresses the concrete side accepts."""

from __future__ import annotations

import ipaddress as ip

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import budget

from nflens.dialects.ipset import parse as parse_ipsets
from nflens.dialects.iptables import parse
from nflens.ir.host import Host
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.matches import lookup
from nflens.kernel.region import NULL_HOST

SAVE = """\
create ban hash:net family inet hashsize 1024 maxelem 65536
add ban 10.0.0.0/8
add ban 10.1.0.0/16 nomatch
add ban 10.1.2.0/24
create ban6 hash:net family inet6
add ban6 2001:db8::/32
create one hash:ip family inet timeout 300
add one 192.0.2.7 timeout 120
create svc hash:ip,port family inet
add svc 10.0.0.1,tcp:80
add svc 10.0.0.1,udp:53
create pairs hash:net,port family inet
add pairs 192.0.2.0/24,tcp:22
create ports bitmap:port range 1-1000
add ports 22
create both list:set size 8
add both one
add both ban
create mac hash:mac
"""
SETS = parse_ipsets(SAVE)
MODEL = HostModel(Host(ipsets=SETS))
XT = lookup("xt", "set")


def _match(text: str) -> XtMatch:
    rule = parse(f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {text} -j ACCEPT\nCOMMIT\n").tables[0] \
        .chains[0].rules[0]
    return [e for e in rule.exprs if isinstance(e, XtMatch)][-1]


def _ctx(src: str, dst: str, env=MODEL, proto="tcp", sport=40000, dport=80, family="ip"):
    pkt = Packet(ip.ip_address(src), ip.ip_address(dst), proto, sport, dport)
    return PacketContext(pkt=pkt, family=family, hook="input", env=env, ct=CtView("NEW"))


def _eval(text: str, src: str, dst: str = "203.0.113.1", **kw):
    return XT.evaluate(_match(text), _ctx(src, dst, **kw))


@pytest.mark.parametrize("src,want", [("10.0.0.1", True), ("10.1.0.1", False),
                                      ("10.1.2.3", True), ("11.0.0.1", False)])
def test_the_most_specific_entry_decides_so_nomatch_carves_out(src, want):
    assert _eval("-m set --match-set ban src", src) is want


@pytest.mark.parametrize("src,want", [("10.0.0.1", False), ("10.1.0.1", True),
                                      ("10.1.2.3", False), ("11.0.0.1", False)])
def test_return_nomatch_matches_the_nomatch_entries_only(src, want):
    assert _eval("-m set --match-set ban src --return-nomatch", src) is want


def test_the_direction_flag_picks_the_packets_address():
    assert _eval("-m set --match-set ban dst", "203.0.113.1", "10.0.0.9") is True
    assert _eval("-m set --match-set ban dst", "10.0.0.9", "203.0.113.1") is False


def test_negation_inverts_the_lookup():
    assert _eval("-m set ! --match-set ban src", "10.1.0.1") is True
    assert _eval("-m set ! --match-set ban src", "10.0.0.1") is False


def test_a_family_mismatch_never_matches():
    assert _eval("-m set --match-set ban6 src", "10.0.0.1") is False
    assert _eval("-m set ! --match-set ban6 src", "10.0.0.1") is True
    assert _eval("-m set --match-set ban src", "2001:db8::1", "2001:db8::2", family="ip6") \
        is False


def test_fewer_flags_than_dimensions_never_match():
    assert _eval("-m set --match-set svc src", "10.0.0.1") is False


def test_ip_port_sets_look_at_protocol_and_port():
    assert _eval("-m set --match-set svc src,dst", "10.0.0.1", dport=80) is True
    assert _eval("-m set --match-set svc src,dst", "10.0.0.1", dport=81) is False
    assert _eval("-m set --match-set svc src,dst", "10.0.0.1", proto="udp", dport=80) is False
    assert _eval("-m set --match-set svc src,dst", "10.0.0.1", proto="udp", dport=53) is True
    assert _eval("-m set --match-set svc src,src", "10.0.0.1", sport=80, dport=1) is True


def test_bitmap_port_takes_tcp_and_udp_only():
    assert _eval("-m set --match-set ports dst", "1.1.1.1", dport=22) is True
    assert _eval("-m set --match-set ports dst", "1.1.1.1", proto="udp", dport=22) is True
    assert _eval("-m set --match-set ports dst", "1.1.1.1", proto="sctp", dport=22) is False


def test_a_list_set_matches_where_a_member_does():
    assert _eval("-m set --match-set both src", "192.0.2.7") is True
    assert _eval("-m set --match-set both src", "10.0.0.1") is True
    assert _eval("-m set --match-set both src", "10.1.0.1") is False


def test_without_ipset_save_the_match_is_uncertain_naming_the_set():
    r = _eval("-m set --match-set ban src", "10.0.0.1", env=HostModel(Host()))
    assert isinstance(r, Unknown) and "ipset ban" in r.reason and "ipset-save.txt" in r.reason


def test_a_set_missing_from_ipset_save_is_uncertain_naming_it():
    r = _eval("-m set --match-set gone src", "10.0.0.1")
    assert isinstance(r, Unknown) and "gone" in r.reason


def test_an_unmodelled_set_type_is_uncertain_naming_it():
    r = _eval("-m set --match-set mac src", "10.0.0.1")
    assert isinstance(r, Unknown) and "hash:mac" in r.reason


def test_counters_are_uncertain():
    r = _eval("-m set --match-set ban src --packets-gt 5", "10.0.0.1")
    assert isinstance(r, Unknown) and "--packets-gt" in r.reason


def test_symbolically_without_contents_it_is_unknown_naming_the_set():
    zero = "0.0.0.0"
    region = XT.constrain(_match("-m set --match-set ban src"), _ctx(zero, zero, env=NULL_HOST))
    assert region.unknown and "ban" in region.unknown[0]


def test_symbolically_the_region_is_the_sets_exact_addresses():
    zero = "0.0.0.0"
    region = XT.constrain(_match("-m set --match-set ban src"), _ctx(zero, zero))
    n = lambda a: int(ip.ip_address(a))  # noqa: E731
    assert region.src == ((n("10.0.0.0"), n("10.0.255.255")), (n("10.1.2.0"), n("10.1.2.255")),
                          (n("10.2.0.0"), n("10.255.255.255")))
    assert region.dst is None and not region.unknown


RULES = ["-m set --match-set ban src", "-m set ! --match-set ban dst",
         "-m set --match-set ban src --return-nomatch", "-m set --match-set both src",
         "-m set ! --match-set both dst", "-m set --match-set svc src,dst",
         "-m set --match-set pairs src,dst", "-m set --match-set ports dst",
         "-m set --match-set ban6 src", "-m set --match-set one dst"]
NEAR = st.sampled_from(["10.0.0.0", "10.1.0.0", "10.1.2.0", "10.1.3.0", "192.0.2.7",
                        "192.0.2.0", "10.0.0.1", "11.0.0.0"])
ADDRESS = st.one_of(st.integers(0, 2**32 - 1).map(lambda i: str(ip.IPv4Address(i))),
                    st.tuples(NEAR, st.integers(-2, 2)).map(
                        lambda t: str(ip.IPv4Address((int(ip.IPv4Address(t[0])) + t[1])
                                                     % 2**32))))


@budget(300)
@given(text=st.sampled_from(RULES), src=ADDRESS, dst=ADDRESS,
       proto=st.sampled_from(["tcp", "udp", "sctp"]), dport=st.sampled_from([22, 53, 80, 443]))
def test_constrain_accepts_exactly_what_evaluate_accepts(text, src, dst, proto, dport):
    match = _match(text)
    concrete = XT.evaluate(match, _ctx(src, dst, proto=proto, dport=dport))
    region = XT.constrain(match, _ctx("0.0.0.0", "0.0.0.0", proto=proto, dport=dport))
    assert not isinstance(concrete, Unknown) and not region.unknown, (text, region)
    inside = not region.empty and all(
        ivs is None or any(lo <= int(ip.ip_address(a)) <= hi for lo, hi in ivs)
        for a, ivs in ((src, region.src), (dst, region.dst)))
    assert concrete is inside, (text, src, dst, region)
