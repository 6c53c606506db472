"""-m icmp --icmp-type / -m icmp6 --icmpv6-type (net/netfilter/xt_tcpudp.c icmp_match,
net/ipv6/netfilter/ip6_tables.c icmp6_match)."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_by_evaluation

DIALECT = "xt"
NAMES = ("icmp", "icmp6")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    want = "icmp" if match.name == "icmp" else "icmpv6"
    if pkt is None or pkt.proto != want:
        return False

    def test(opt: Opt) -> MatchResult:
        t, c = opt.value
        if t is None:  # "any"
            return True
        return pkt.icmp_type == t and (c is None or pkt.icmp_code == c)

    return all_opts(match, test)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: no address options, so the truth on the fixed fields."""
    return constrain_by_evaluation(evaluate, match, ctx)
