"""-m multiport --sports/--dports/--ports (net/netfilter/xt_multiport.c)."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_by_evaluation, in_range

DIALECT = "xt"
NAMES = ("multiport",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if pkt is None or pkt.sport is None:
        return False

    def test(opt: Opt) -> MatchResult:
        if opt.name in ("sports", "source-ports"):
            return any(in_range(pkt.sport, r) for r in opt.value)
        if opt.name in ("dports", "destination-ports"):
            return any(in_range(pkt.dport, r) for r in opt.value)
        return any(in_range(pkt.sport, r) or in_range(pkt.dport, r) for r in opt.value)

    return all_opts(match, test)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: no address options, so the truth on the fixed fields."""
    return constrain_by_evaluation(evaluate, match, ctx)
