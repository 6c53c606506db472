"""The chain index skips only rules that cannot match: an indexed walk decides exactly what a
walk of every rule decides, on allow-lists shaped like real DOCKER-USER chains."""

from __future__ import annotations

import ipaddress as ip
import os
import shutil

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nflens.dialects import iptables
from nflens.ir.packet import Packet
from nflens.kernel.chain import ChainWalker, Oracle
from nflens.kernel.context import CtView, PacketContext
from nflens.kernel.index import build


def _can_load_nft() -> bool:
    return os.geteuid() == 0 and shutil.which("nft") is not None and shutil.which("unshare")


PORTS = (20000, 20001, 20002, 80, 443)
ADDRS = ("172.18.0.2", "172.18.0.3", "10.99.0.2", "198.51.100.2")

LINE = st.one_of(
    st.builds(lambda p, s: f"-A DOCKER-USER{s} -p tcp -m conntrack --ctorigdstport {p} -j ACCEPT",
              st.sampled_from(PORTS), st.sampled_from(("", " -s 10.99.0.0/24"))),
    st.builds(lambda p: f"-A DOCKER-USER -p tcp -m conntrack ! --ctorigdstport {p} -j DROP",
              st.sampled_from(PORTS)),
    st.builds(lambda p: f"-A DOCKER-USER -p tcp -m conntrack --ctstate NEW --ctorigdstport "
              f"{p}:{p + 1} -j ACCEPT", st.sampled_from(PORTS)),
    st.builds(lambda p: f"-A DOCKER-USER -p tcp -m tcp --dport {p} -j REJECT",
              st.sampled_from(PORTS)),
    st.builds(lambda a: f"-A DOCKER-USER -d {a}/32 -j DROP", st.sampled_from(ADDRS)),
    st.just("-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
    st.just("-A DOCKER-USER -i br+ -o br+ -j ACCEPT"),
    st.just("-A DOCKER-USER -o eth0 -j ACCEPT"),
    st.builds(lambda i, o: f"-A DOCKER-USER -i {i} ! -o {o} -j DROP",
              st.sampled_from(("eth0", "eth1", "br-1")), st.sampled_from(("eth0", "br-1"))),
    st.builds(lambda o: f"-A DOCKER-USER -o {o} -j DOCKER", st.sampled_from(("br-1", "br-2"))),
)

# an untracked packet has no tuple (conntrack.view makes CtView("UNTRACKED") and nothing else)
CT = st.one_of(st.none(), st.just(CtView("UNTRACKED")), st.builds(
    lambda state, dport: CtView(state, orig_dport=dport, orig_dst=ip.ip_address("10.99.0.1")),
    st.sampled_from(("NEW", "ESTABLISHED")), st.sampled_from(PORTS + (None,))))


def _table(lines):
    text = "\n".join(["*filter", ":FORWARD ACCEPT [0:0]", ":DOCKER-USER - [0:0]",
                      ":DOCKER - [0:0]", "-A FORWARD -j DOCKER-USER", *lines,
                      "-A DOCKER-USER -j DROP", "-A DOCKER -j RETURN", "COMMIT"])
    return iptables.parse(text + "\n", "allow-list.rules").tables[0]


def _walk(table, ctx, indexes):
    steps: list = []
    walker = ChainWalker(table, Oracle(), steps, "original", "forward", indexes)
    result = walker.run(table.chain("FORWARD"), ctx)
    return result.verdict, result.by.index if result.by else None, result.by and result.by.chain


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(LINE, min_size=16, max_size=40), st.sampled_from(ADDRS),
       st.sampled_from(PORTS), CT, st.sampled_from(("eth0", "br-1", "br-2")),
       st.sampled_from(("eth0", "eth1", "br-1")))
@example(["-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 20000 -j ACCEPT"] * 16,
         "172.18.0.2", 80, CtView("NEW", orig_dport=20000), "br-1", "eth1")
def test_indexed_walk_decides_like_the_full_walk(lines, dst, dport, ct, oif, iif):
    table = _table(lines)
    pkt = Packet(ip.ip_address("10.99.0.2"), ip.ip_address(dst), "tcp", 40000, dport)
    ctx = PacketContext(pkt, "ip", "forward", None, iif=iif, oif=oif, ct=ct)
    assert _walk(table, ctx, {}) == _walk(table, ctx, None)


def test_an_allow_list_is_indexed_by_original_destination_port():
    lines = [f"-A DOCKER-USER -p tcp -m conntrack --ctorigdstport {20000 + i} -j ACCEPT"
             for i in range(100)]
    table = _table(["-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                    *lines])
    index = build(table.chain("DOCKER-USER"))
    assert index is not None and len(index.generic) == 2
    pkt = Packet(ip.ip_address("10.99.0.2"), ip.ip_address("172.18.0.2"), "tcp", 40000, 80)

    def ctx(ct):
        return PacketContext(pkt, "ip", "forward", None, iif="eth0", oif="br-1", ct=ct)

    # the RELATED,ESTABLISHED rule, the port's own rule, the final DROP
    assert index.candidates(ctx(CtView("NEW", orig_dport=20042))) == [0, 43, 101]
    assert index.candidates(ctx(CtView("UNTRACKED"))) == [0, 101]
    assert index.candidates(ctx(None)) == [0, 101]


def test_docker_2010_forward_is_indexed_by_device():
    """Four rules per bridge in FORWARD: a packet to br-3 meets br-3's rules only."""
    lines = []
    for b in range(10):
        lines += [f"-A FORWARD -o br-{b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                  f"-A FORWARD -o br-{b} -j DOCKER", f"-A FORWARD -i br-{b} ! -o br-{b} -j ACCEPT",
                  f"-A FORWARD -i br-{b} -o br-{b} -j ACCEPT"]
    text = "\n".join(["*filter", ":FORWARD ACCEPT [0:0]", ":DOCKER - [0:0]", *lines,
                      "COMMIT"]) + "\n"
    index = build(iptables.parse(text, "fwd.rules").tables[0].chain("FORWARD"))
    pkt = Packet(ip.ip_address("10.99.0.2"), ip.ip_address("172.18.0.2"), "tcp", 40000, 80)
    ctx = PacketContext(pkt, "ip", "forward", None, iif="eth0", oif="br-3")
    assert index.candidates(ctx) == [12, 13]


NFT_LINE = st.one_of(
    st.builds(lambda p, s: f"{s}meta l4proto tcp ct original proto-dst {p} accept",
              st.sampled_from(PORTS), st.sampled_from(("", "ip saddr 10.99.0.0/24 "))),
    st.builds(lambda p: f"meta l4proto tcp ct original proto-dst != {p} drop",
              st.sampled_from(PORTS)),
    st.builds(lambda d: f'iifname "{d}" accept', st.sampled_from(("eth0", "br-1", "br-*"))),
    st.builds(lambda d: f'oifname "{d}" drop', st.sampled_from(("eth0", "br-1", "br-2"))),
    st.builds(lambda d: f'oifname != "{d}" accept', st.sampled_from(("eth0", "br-1"))),
    st.builds(lambda a: f"ip daddr {a} drop", st.sampled_from(ADDRS)),
    st.builds(lambda p: f"tcp dport {p} reject", st.sampled_from(PORTS)),
    st.just("ct state established,related accept"),
)


@pytest.mark.skipif(not _can_load_nft(), reason="nft text goes through the real nft (root)")
@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(NFT_LINE, min_size=16, max_size=30), st.sampled_from(ADDRS),
       st.sampled_from(PORTS), CT, st.sampled_from(("eth0", "br-1", "br-2", None)),
       st.sampled_from(("eth0", "eth1", "br-1", None)), st.sampled_from(("inet", "bridge")))
def test_indexed_nft_walk_decides_like_the_full_walk(lines, dst, dport, ct, oif, iif, family):
    from nflens.dialects.nft.textparse import parse_text

    if family == "bridge":  # no conntrack in the bridge family here: the devices are the point
        lines = [line.replace("reject", "drop") if "ct " not in line
                 else 'iifname "veth1" accept' for line in lines]
    text = "\n".join([f"table {family} t {{", "chain allow {",
                      "type filter hook forward priority 0; policy accept;", *lines, "}", "}"])
    table = parse_text(text + "\n", "allow-list.nft").tables[0]
    pkt = Packet(ip.ip_address("10.99.0.2"), ip.ip_address(dst), "tcp", 40000, dport)
    ctx = PacketContext(pkt, family, "forward", None, iif=iif, oif=oif, ct=ct,
                        physin="veth1" if family == "bridge" else None,
                        physout="eth0" if family == "bridge" else None)

    def walk(indexes):
        steps: list = []
        res = ChainWalker(table, Oracle(), steps, "original", "forward", indexes).run(
            table.chain("allow"), ctx)
        return res.verdict, res.by.index if res.by else None

    assert walk({}) == walk(None)
