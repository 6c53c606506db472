"""nft fib expressions: FIB lookups from a rule (net/ipv4/netfilter/nft_fib_ipv4.c,
net/ipv6/netfilter/nft_fib_ipv6.c; nft(8) "FIB EXPRESSIONS").

`fib daddr type local`: the route type of the destination (RTN_LOCAL ...), from
HostEnv.addr_type; with `iif`/`oif` in the flags the lookup is limited to that device.
`fib saddr . iif oif missing` (reverse-path filter): look up the source; when `iif` is in the
flags the kernel only accepts a result through the input device (nft_fib4_eval compares the
result's device with the input device and stores 0 otherwise). A missing result is False,
which is what `missing` (JSON false) compares against.
"""

from __future__ import annotations

from typing import Any

from nflens.ir.rules import NftCmp, NftExpr
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.matches._nft_common import MISSING, evaluate_cmp

DIALECT = "nft"
NAMES = ("fib",)


def evaluate(cmp: NftCmp, ctx: PacketContext) -> MatchResult:
    return evaluate_cmp(cmp, ctx)


def domain(expr: NftExpr) -> str | None:
    return None


def _flags(expr: NftExpr) -> tuple[str, ...]:
    flags = expr.get("flags", ())
    return (flags,) if isinstance(flags, str) else tuple(flags)


def value(expr: NftExpr, ctx: PacketContext) -> Any:
    pkt = ctx.pkt
    if pkt is None:
        return MISSING
    flags, result = _flags(expr), expr.get("result")
    addr = pkt.src if "saddr" in flags else pkt.dst
    if "iif" in flags and ctx.iif is None:
        return MISSING
    dev = ctx.iif if "iif" in flags else (ctx.oif if "oif" in flags else None)
    if isinstance(dev, Unknown):  # a device a symbolic question leaves open
        return dev
    if result == "type":
        kind = ctx.env.addr_type(addr, dev)
        return kind if isinstance(kind, Unknown) else kind.lower()  # a host model that can't say
    if result in ("oif", "oifname"):
        mark = ctx.mark if "mark" in flags else 0
        if "saddr" in flags:
            iif = ctx.iif
            if isinstance(iif, Unknown):  # the reverse lookup's input device, left open
                return iif
            out = ctx.env.route_oif(pkt.src, pkt.dst, iif, mark)
        else:
            out = ctx.env.route_oif(pkt.dst, pkt.src, None, mark)
        if isinstance(out, Unknown):  # a host model that can't say (the null host)
            return out
        if out is None or ("iif" in flags and out != ctx.iif):
            return False
        return out
    return Unknown(f"fib {result} is not modelled")
