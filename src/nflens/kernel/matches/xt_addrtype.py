"""-m addrtype --src-type/--dst-type [--limit-iface-in/out] (net/netfilter/xt_addrtype.c):
the route type of the address in the FIB, optionally limited to the in/out device.

IPv4 and IPv6 differ (addrtype_mt_v1): for IPv4 the address has exactly one route type and the
match is true when it is one of those listed. For IPv6 (match_type6) UNICAST/MULTICAST/UNSPEC
are properties of the address itself and must *all* hold, and only LOCAL/ANYCAST/UNREACHABLE
come from a route lookup — so a local IPv6 address is both LOCAL and UNICAST, where a local
IPv4 address is LOCAL only (found by differential fuzzing against the kernel).
"""

from __future__ import annotations

from nflens.ir.packet import IPAddress
from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_unknown_opts

DIALECT = "xt"
NAMES = ("addrtype",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if pkt is None:
        return False
    limit_in = match.get("limit-iface-in") is not None
    limit_out = match.get("limit-iface-out") is not None
    dev = ctx.iif if limit_in else (ctx.oif if limit_out else None)

    def test(opt: Opt) -> MatchResult:
        if opt.name in ("src-type", "dst-type"):
            if isinstance(dev, Unknown):  # --limit-iface-in/out on a device left open
                return dev
            addr = pkt.src if opt.name == "src-type" else pkt.dst
            if addr.version == 6:
                return _match_type6(ctx, addr, dev, opt.value)
            return _is(ctx.env.addr_type(addr, dev), opt.value)
        return True  # limit-iface-* are modifiers

    return all_opts(match, test)


ROUTE_TYPES6 = {"LOCAL", "ANYCAST", "UNREACHABLE"}


def _match_type6(ctx: PacketContext, addr: IPAddress, dev: str | None,
                 wanted: frozenset[str]) -> MatchResult:
    if "MULTICAST" in wanted and not addr.is_multicast:
        return False
    if "UNICAST" in wanted and (addr.is_multicast or addr.is_unspecified):
        return False
    if "UNSPEC" in wanted and not addr.is_unspecified:
        return False
    if wanted & ROUTE_TYPES6:
        return _is(ctx.env.addr_type(addr, dev), wanted)
    return True


def _is(kind: str | Unknown, wanted: frozenset[str]) -> MatchResult:
    """The host model may not know (the null model of a symbolic question): Unknown then."""
    return kind if isinstance(kind, Unknown) else kind in wanted


ADDRESS_TYPES = {n: "the route type of the address (needs the host's routes)"
                 for n in ("src-type", "dst-type")}


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: the type of an address is a property of each address and of the
    host's routes, never of the placeholder address of the context, so it is unknown."""
    return constrain_unknown_opts(match, ctx, evaluate, ADDRESS_TYPES)
