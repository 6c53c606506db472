"""nft fib expressions: FIB lookups from a rule (net/ipv4/netfilter/nft_fib_ipv4.c,
net/ipv6/netfilter/nft_fib_ipv6.c; nft(8) "FIB EXPRESSIONS").

`fib daddr type local`: the route type of the destination (RTN_LOCAL ...), from
HostEnv.addr_type; with `iif`/`oif` in the flags the lookup is limited to that device.
`fib saddr . iif oif missing` (reverse-path filter): look up the source; when `iif` is in the
flags the kernel only accepts a result through the input device (nft_fib4_eval asks whether
any next hop of the result uses the input device, fib_info_nh_uses_dev, and stores 0
otherwise). A missing result is False,
which is what `missing` (JSON false) compares against.
"""

from __future__ import annotations

from typing import Any

from nflens.ir.rules import NftCmp, NftExpr
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.matches._nft_common import MISSING, evaluate_cmp
from nflens.kernel.matches.nft_symbols import proto_number

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
        proto = proto_number(pkt.proto) or 0
        if "saddr" in flags:
            # nft_fib4_eval: the lookup's iif is the loopback device (an `ip rule iif X` does
            # not select it), except in forward with `iif`, where it is the output device;
            # the packet's destination is the lookup's source
            lookup_iif = ctx.oif if ctx.hook == "forward" and "iif" in flags else None
            if isinstance(ctx.iif, Unknown):  # the device compared against, left open
                return ctx.iif
            if isinstance(lookup_iif, Unknown):
                return lookup_iif
            out = ctx.env.route_oif(pkt.src, pkt.dst, lookup_iif, mark, proto,
                                    via=ctx.iif if "iif" in flags else None)
        else:
            out = ctx.env.route_oif(pkt.dst, pkt.src, None, mark, proto)
        if isinstance(out, Unknown):  # a host model that can't say (the null host)
            return out
        if out is None or ("iif" in flags and out != ctx.iif):
            return False
        return out
    return Unknown(f"fib {result} is not modelled")
