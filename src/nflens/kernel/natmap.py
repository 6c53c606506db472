"""NAT whose address or port comes from an expression: `dnat to ip daddr map { ... }`,
`dnat ip to tcp dport map { 22 : 10.2.0.2 . 80 }`, `redirect to :tcp dport map { 80 : 8443 }`,
`dnat to numgen inc mod 2 map { 0 : a, 1 : b }` (issue 24 class 10).

nft_nat.c loads the address (and, with a concatenated map value, the port after it) from the
registers the lookup filled; a key without an element makes nft_lookup break (NFT_BREAK): the
rule does not match and the chain goes on, no NAT. A key the model cannot compute (numgen's
counter, jhash/symhash) lists the values it can take — numgen and the hashes give
`offset .. offset + mod - 1` — and the oracle picks one per run, so `simulate` tries every
outcome and says `uncertain`, naming the expression, only where the choice decides the verdict.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from nflens.ir.rules import Action, NftExpr
from nflens.kernel.context import PacketContext, Unknown, describe
from nflens.kernel.matches._nft_common import MISSING, elem_match, set_elements, value_of

# (point, reason, number of choices) -> the index chosen
Choose = Callable[[str, str, int], int]
_MAX_CHOICES = 16


def concrete(action: Action, ctx: PacketContext, choose: Choose) -> Action | None | Unknown:
    """`action` with addr_expr/port_expr replaced by the values they give this packet; None
    when a lookup finds no element (the rule does not match); Unknown when not computable."""
    opts = dict(action.opts)
    for name in ("addr_expr", "port_expr"):
        expr = opts.pop(name, None)
        if expr is None:
            continue
        value = _value(expr, ctx, choose, name)
        if value is MISSING:
            return None
        if isinstance(value, Unknown):
            return value
        if not _assign(opts, name, value):
            return Unknown(f"NAT to {describe(value)} from {describe(expr)} is not modelled")
    return Action(action.name, tuple(sorted(opts.items())))


def _value(expr: Any, ctx: PacketContext, choose: Choose, name: str) -> Any:
    value = value_of(expr, ctx)
    if not isinstance(value, Unknown) or not isinstance(expr, NftExpr) or expr.kind != "map":
        return value
    options = _options(expr, ctx)
    if options is None:
        return value
    shown = ", ".join("no element" if o is MISSING else describe(o) for o in options)
    index = choose(f"natmap/{name}", f"{describe(expr.get('key'))} picks the NAT "
                   f"{'address' if name == 'addr_expr' else 'port'} among {shown} "
                   f"({value.reason})", len(options))
    return options[index]


def _options(expr: NftExpr, ctx: PacketContext) -> list[Any] | None:
    """Every value the map can give when its key cannot be computed, in element order."""
    data = expr.get("data")
    if isinstance(data, str) and data.startswith("@"):
        elements = set_elements(ctx, data[1:])
    elif isinstance(data, NftExpr) and data.kind == "set":
        elements = data.get("elements", ())
    else:
        return None
    if elements is None:
        return None
    pairs = [e for e in elements if isinstance(e, tuple) and len(e) == 2]
    key = expr.get("key")
    mod = key.get("mod") if isinstance(key, NftExpr) else None
    out: list[Any] = []
    if isinstance(mod, int) and 0 < mod <= _MAX_CHOICES:
        offset = key.get("offset", 0) or 0
        for k in range(offset, offset + mod):
            hit = next((d for kk, d in pairs if elem_match(k, kk, None, ctx) is True), MISSING)
            if hit not in out:
                out.append(hit)
        return out
    if len(pairs) >= _MAX_CHOICES:
        return None
    for _, d in pairs:
        if d not in out:
            out.append(d)
    return out + [MISSING]


def _assign(opts: dict[str, Any], name: str, value: Any) -> bool:
    """Write a map's value as the action's range: an address, a port, or address . port."""
    if isinstance(value, NftExpr) and value.kind == "concat":
        items = value.get("items", ())
        if len(items) != 2:
            return False
        return _assign(opts, "addr_expr", items[0]) and _assign(opts, "port_expr", items[1])
    if name == "port_expr":
        if isinstance(value, int) and not isinstance(value, bool):
            opts["port"] = (value, value)
            return True
        if isinstance(value, NftExpr) and value.kind == "range":
            opts["port"] = (int(value.get("lo")), int(value.get("hi")))
            return True
        return False
    addr = _address_range(value)
    if addr is None:
        return False
    opts["addr"] = addr
    return True


def _address_range(value: Any) -> tuple[Any, Any] | None:
    try:
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return (value, value)
        if isinstance(value, str):
            one = ipaddress.ip_address(value)
            return (one, one)
        if isinstance(value, NftExpr) and value.kind == "range":
            return (ipaddress.ip_address(str(value.get("lo"))),
                    ipaddress.ip_address(str(value.get("hi"))))
        if isinstance(value, NftExpr) and value.kind == "prefix":
            net = ipaddress.ip_network(f"{value.get('addr')}/{value.get('len')}", strict=False)
            return (net.network_address, net.broadcast_address)
    except (ValueError, TypeError):
        return None
    return None
