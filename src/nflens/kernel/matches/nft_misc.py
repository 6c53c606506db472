"""The other nft key expressions: bitwise operations, concatenations, map lookups, and the ones
the model does not know (rt, socket, numgen, jhash, exthdr, tcp option, osf, ipsec, limit,
quota, xt ...), which evaluate to Unknown with their name so the verdict can say why.

Bitwise (net/netfilter/nft_bitwise.c): `meta mark & 0xff == 1` loads the key, applies the
operation with a constant, then compares. On a flag set (`ct state & (new|related) != 0`,
`tcp flags & (syn|ack) == syn`) the operation works on the set of names.
"""

from __future__ import annotations

from typing import Any

from nflens.ir.rules import NftExpr
from nflens.kernel.context import MatchResult, PacketContext, Unknown, describe
from nflens.kernel.matches._nft_common import (
    MISSING,
    coerce,
    domain_of,
    elem_match,
    evaluate_cmp,
    set_elements,
    value_of,
)

DIALECT = "nft"
NAMES = ("&", "|", "^", "<<", ">>", "concat", "map", "rt", "socket", "numgen", "jhash",
         "symhash", "limit", "quota", "exthdr", "tcp option", "ip option", "sctp chunk", "osf",
         "ipsec", "tunnel", "xt", "ct count", "connlimit", "last", "meter", "value")
UNMODELLED = {"rt": "routing data (rt)", "socket": "socket lookup", "numgen": "number generator",
              "jhash": "hash", "symhash": "hash", "limit": "rate limit", "quota": "quota",
              "exthdr": "IPv6 extension headers", "tcp option": "TCP options",
              "ip option": "IP options", "sctp chunk": "SCTP chunks", "osf": "OS fingerprint",
              "ipsec": "IPsec state", "tunnel": "tunnel metadata", "ct count": "connection count",
              "connlimit": "connection limit", "last": "last-seen state", "meter": "meter",
              "xt": "iptables-nft extension (opaque xt)"}


def evaluate(expr: NftExpr, ctx: PacketContext) -> MatchResult:
    if isinstance(expr, NftExpr):
        return Unknown(_why(expr))
    return evaluate_cmp(expr, ctx)


def _why(expr: NftExpr) -> str:
    what = UNMODELLED.get(expr.kind, f"nft {expr.kind}")
    name = expr.get("name")
    return f"{what} {name!r} is not modelled" if name else f"{what} is not modelled"


def domain(expr: NftExpr) -> Any:
    if expr.kind in ("&", "|", "^"):
        return domain_of(expr.get("left"))
    return None


def value(expr: NftExpr, ctx: PacketContext) -> Any:
    kind = expr.kind
    if kind == "concat":
        parts = tuple(value_of(i, ctx) for i in expr.get("items", ()))
        for part in parts:
            if part is MISSING or isinstance(part, Unknown):
                return part
        return parts
    if kind in ("&", "|", "^", "<<", ">>"):
        return _bitwise(expr, ctx)
    if kind == "map":
        return _map(expr, ctx)
    return Unknown(_why(expr))


def _bitwise(expr: NftExpr, ctx: PacketContext) -> Any:
    left = value_of(expr.get("left"), ctx)
    if left is MISSING or isinstance(left, Unknown):
        return left
    right = expr.get("right")
    if isinstance(left, frozenset):  # flag sets: & keeps the named bits
        names = frozenset(str(r).lower() for r in (right if isinstance(right, tuple) else (right,)))
        if expr.kind == "&":
            return left & names
        if expr.kind == "|":
            return left | names
        return left ^ names
    const = coerce(value_of(right, ctx), left, domain_of(expr.get("left")), ctx)
    if not isinstance(left, int) or not isinstance(const, int):
        return Unknown(f"bitwise {expr.kind} on {describe(left)} is not modelled")
    ops = {"&": left & const, "|": left | const, "^": left ^ const,
           "<<": (left << const) & 0xFFFFFFFF, ">>": left >> const}
    return ops[expr.kind]


def _map(expr: NftExpr, ctx: PacketContext) -> Any:
    """`KEY map { k : v, ... }` / `KEY map @m` as a value: the data of the matching element."""
    key = value_of(expr.get("key"), ctx)
    if key is MISSING or isinstance(key, Unknown):
        return key
    data = expr.get("data")
    if isinstance(data, str) and data.startswith("@"):
        elements = set_elements(ctx, data[1:])
        if elements is None:
            return Unknown(f"contents of map {data} are not in the snapshot")
    elif isinstance(data, NftExpr) and data.kind == "set":
        elements = data.get("elements", ())
    else:
        return Unknown("map data is not modelled")
    dom = domain_of(expr.get("key"))
    for elem in elements:
        if not (isinstance(elem, tuple) and len(elem) == 2):
            continue
        hit = elem_match(key, elem[0], dom, ctx)
        if isinstance(hit, Unknown):  # the first matching element's data is the value
            return hit
        if hit:
            return elem[1]
    return MISSING  # no element: nft_lookup breaks
