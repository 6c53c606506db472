"""The built-in part of an iptables rule: -s -d -i -o -p -f (net/ipv4/netfilter/ip_tables.c
ip_packet_match, net/ipv6/netfilter/ip6_tables.c ip6_packet_match)."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_opts, iface_match, unknown

DIALECT = "xt"
NAMES = ("ip",)
PROTO_ALIASES = {"icmpv6": {"icmpv6", "ipv6-icmp", "58"}, "tcp": {"tcp", "6"}, "udp": {"udp", "17"},
                 "icmp": {"icmp", "1"}}


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if pkt is None:
        return False

    def test(opt: Opt) -> MatchResult:
        n = opt.name
        if n in ("src", "dst") and isinstance(opt.value, str):
            return Unknown(f"address placeholder {opt.value} in the dump")
        if n == "src":
            return pkt.src.version == opt.value.version and pkt.src in opt.value
        if n == "dst":
            return pkt.dst.version == opt.value.version and pkt.dst in opt.value
        if n == "in":
            return iface_match(opt.value, ctx.iif)
        if n == "out":
            return iface_match(opt.value, ctx.oif)
        if n == "proto":
            want = str(opt.value)
            return pkt.proto == want or pkt.proto in PROTO_ALIASES.get(want, ()) or want == "all"
        if n == "fragment":
            return False  # the model's packets are never non-first fragments
        return unknown(match, f"option --{n} is not modelled")  # named, never read as false

    return all_opts(match, test)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: the addresses this match accepts, the rest decided by evaluate."""
    return constrain_opts(match, ctx, evaluate, {"src": "src", "dst": "dst"})
