"""-m multiport --sports/--dports/--ports (net/netfilter/xt_multiport.c)."""

from __future__ import annotations

from nflens.kernel.context import PacketContext

from ._xt_util import all_opts, constrain_by_evaluation, in_range

DIALECT = "xt"
NAMES = ("multiport",)


def evaluate(match, ctx: PacketContext):
    pkt = ctx.pkt
    if pkt is None or pkt.sport is None:
        return False

    def test(opt):
        if opt.name in ("sports", "source-ports"):
            return any(in_range(pkt.sport, r) for r in opt.value)
        if opt.name in ("dports", "destination-ports"):
            return any(in_range(pkt.dport, r) for r in opt.value)
        return any(in_range(pkt.sport, r) or in_range(pkt.dport, r) for r in opt.value)

    return all_opts(match, test)


def constrain(match, ctx: PacketContext):
    """The symbolic side: no address options, so the truth on the fixed fields."""
    return constrain_by_evaluation(evaluate, match, ctx)
