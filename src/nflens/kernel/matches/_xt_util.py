"""Helpers shared by the x_tables match modules: per-option negation and interface names."""

from __future__ import annotations

from collections.abc import Callable

from nflens.ir.netmask import MaskedNetwork
from nflens.ir.packet import max_address
from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import EMPTY, FULL, Region, addresses, complement
from nflens.kernel.region import unknown as unknown_region

# a match module's evaluate(match, ctx), and the per-option test all_opts folds
Evaluate = Callable[[XtMatch, PacketContext], MatchResult]
OptTest = Callable[[Opt], MatchResult]


def iface_match(pattern: str, name: str | Unknown | None) -> MatchResult:
    """`eth+` matches every name starting with eth (xt's ifname_compare with a trailing +).
    An interface left open in a symbolic question (an `Unknown`) decides nothing."""
    if isinstance(name, Unknown):
        return name
    if name is None:
        return False
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def in_range(value: int | None, rng: tuple[int, int]) -> bool:
    return value is not None and rng[0] <= value <= rng[1]


def all_opts(match: XtMatch, test: OptTest) -> MatchResult:
    """AND over a match's options, each with its own `!`; Unknown if any is undecidable."""
    unknown: Unknown | None = None
    for opt in match.opts:
        r = test(opt)
        if isinstance(r, Unknown):
            unknown = unknown or r
            continue
        if bool(r) == opt.negated:
            return False
    return unknown if unknown is not None else True


def unknown(match: XtMatch, why: str) -> Unknown:
    return Unknown(f"-m {match.name}: {why}")


__all__ = ["iface_match", "in_range", "all_opts", "unknown", "Opt"]


# --- the symbolic side (see nflens.kernel.region) --------------------------------------------

def constrain_by_evaluation(evaluate: Evaluate, match: XtMatch, ctx: PacketContext) -> Region:
    """A match without address options: its truth on the fixed fields, by its own evaluate.
    Only for options that do not depend on the packet's addresses: the context's addresses are
    placeholders (0.0.0.0), and its host model (NULL_HOST) answers Unknown."""
    r = evaluate(match, ctx)
    if isinstance(r, Unknown):
        return unknown_region(r.reason)
    return FULL if r else EMPTY


def constrain_unknown_opts(match: XtMatch, ctx: PacketContext, evaluate: Evaluate,
                           why: dict[str, str]) -> Region:
    """Options in `why` depend on the addresses in a way a region of the packet's own source
    and destination cannot say (a conntrack tuple, a route type): each is unknown, named; the
    other options are decided by `evaluate`."""
    rest = XtMatch(match.name, tuple(o for o in match.opts if o.name not in why))
    region = constrain_by_evaluation(evaluate, rest, ctx)
    for opt in match.opts:
        if opt.name in why:
            region &= unknown_region(f"-m {match.name} --{opt.name}: {why[opt.name]}")
    return region


def constrain_opts(match: XtMatch, ctx: PacketContext, evaluate: Evaluate,
                   address_opts: dict[str, str]) -> Region:
    """Address options become intervals of the source or destination axis; every other option
    is decided one by one by `evaluate` (so both sides share one semantics)."""
    region = FULL
    assert ctx.pkt is not None, "a symbolic question always carries its placeholder packet"
    version = ctx.pkt.family
    top = max_address(version)
    for opt in match.opts:
        if opt.name not in address_opts:
            region &= constrain_by_evaluation(evaluate, XtMatch(match.name, (opt,)), ctx)
            continue
        value = opt.value
        if isinstance(value, str):
            region &= unknown_region(f"address placeholder {value}")
            continue
        if isinstance(value, MaskedNetwork):  # a non-contiguous mask: a union of intervals
            region &= masked_region(address_opts[opt.name], value, opt.negated, version, top)
            continue
        lo, hi = (value[0], value[1]) if isinstance(value, tuple) else \
            (value.network_address, value.broadcast_address)
        if lo.version != version:
            region &= FULL if opt.negated else EMPTY
            continue
        region &= addresses(address_opts[opt.name], int(lo), int(hi), opt.negated, top)
    return region


def masked_region(field: str, value: MaskedNetwork, negated: bool, version: int,
                  top: int) -> Region:
    """`(addr & mask) == net` as the union of its intervals, or a named unknown when the mask
    has too many holes to list them (ir/netmask.py)."""
    if value.version != version:
        return FULL if negated else EMPTY
    ivs = value.intervals()
    if ivs is None:
        return unknown_region(f"non-contiguous netmask {value} (too many intervals)")
    if negated:
        ivs = complement(ivs, top)
    if not ivs:
        return EMPTY
    return Region(src=ivs) if field == "src" else Region(dst=ivs)
