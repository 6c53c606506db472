"""-m addrtype --src-type/--dst-type [--limit-iface-in/out] (net/netfilter/xt_addrtype.c):
the route type of the address in the FIB, optionally limited to the in/out device."""

from __future__ import annotations

from nflens.kernel.context import PacketContext

from ._xt_util import all_opts

NAMES = ("addrtype",)


def evaluate(match, ctx: PacketContext):
    pkt = ctx.pkt
    if pkt is None:
        return False
    limit_in = match.get("limit-iface-in") is not None
    limit_out = match.get("limit-iface-out") is not None
    dev = ctx.iif if limit_in else (ctx.oif if limit_out else None)

    def test(opt):
        if opt.name == "src-type":
            return ctx.env.addr_type(pkt.src, dev) in opt.value
        if opt.name == "dst-type":
            return ctx.env.addr_type(pkt.dst, dev) in opt.value
        return True  # limit-iface-* are modifiers

    return all_opts(match, test)
