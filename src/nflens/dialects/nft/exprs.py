"""libnftables-json expressions <-> IR values (`NftExpr` trees, verdict `Action`s, plain values).

The mapping is lossless so that generate_json(parse_json(x)) reloads into the same ruleset
(libnftables-json(5), "EXPRESSIONS"):

    JSON                                IR
    "str", 42, true, null               the same Python value ("@name" stays a set reference)
    [a, b]                              (a', b')                  (a list: flags, map pairs)
    {"set": [...]}                      NftExpr("set", (("elements", (...)),))
    {"concat": [...]}                   NftExpr("concat", (("items", (...)),))
    {"range": [lo, hi]}                 NftExpr("range", (("hi", hi'), ("lo", lo')))
    {"&": [l, r]} (also | ^ << >>)      NftExpr("&", (("left", l'), ("right", r')))
    {"accept": null}, {"jump": {...}}   Action("accept"), Action("jump", (("chain", name),))
    {"kind": {k: v, ...}}               NftExpr("kind", sorted((k, v'), ...))
    {"kind": scalar-or-list}            NftExpr("kind", (("_", v'),))
    {"a": 1, "b": 2} (no single key)    NftExpr("", sorted(...))    (an anonymous object)
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.ir.rules import Action, NftExpr

VERDICTS = frozenset({"accept", "drop", "continue", "return", "jump", "goto"})
BINOPS = ("&", "|", "^", "<<", ">>")
_LISTED = {"set": "elements", "concat": "items"}


def to_ir(value: Any) -> Any:
    """Convert one JSON value (already decoded) into its IR form."""
    if isinstance(value, list):
        return tuple(to_ir(v) for v in value)
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return NftExpr("", tuple(sorted((k, to_ir(v)) for k, v in value.items())))
    (kind, body), = value.items()
    if kind in VERDICTS:
        return verdict_to_ir(kind, body)
    if kind in _LISTED and isinstance(body, list):
        return NftExpr(kind, ((_LISTED[kind], tuple(to_ir(v) for v in body)),))
    if kind == "range" and isinstance(body, list) and len(body) == 2:
        return NftExpr("range", (("hi", to_ir(body[1])), ("lo", to_ir(body[0]))))
    if kind in BINOPS and isinstance(body, list) and len(body) == 2:
        return NftExpr(kind, (("left", to_ir(body[0])), ("right", to_ir(body[1]))))
    if isinstance(body, dict):
        return NftExpr(kind, tuple(sorted((k, to_ir(v)) for k, v in body.items())))
    return NftExpr(kind, (("_", to_ir(body)),))


def verdict_to_ir(kind: str, body: Any) -> Action:
    """{"jump": {"target": "c"}} -> Action("jump", (("chain", "c"),));
    {"accept": null} -> accept."""
    if kind in ("jump", "goto"):
        target = body.get("target") if isinstance(body, dict) else body
        if not isinstance(target, str):
            raise ValueError(f"{kind} without a target chain")
        return Action(kind, (("chain", target),))
    return Action(kind)


def to_json(value: Any) -> Any:
    """The inverse of `to_ir`."""
    if isinstance(value, Action):
        return verdict_to_json(value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return {"prefix": {"addr": str(value.network_address), "len": value.prefixlen}}
    if isinstance(value, (tuple, list, frozenset)):
        return [to_json(v) for v in value]
    if not isinstance(value, NftExpr):
        return value
    kind = value.kind
    if kind == "":
        return {k: to_json(v) for k, v in value.args}
    if kind in _LISTED and len(value.args) == 1 and value.args[0][0] == _LISTED[kind]:
        return {kind: [to_json(v) for v in value.args[0][1]]}
    if kind == "range" and {k for k, _ in value.args} == {"lo", "hi"}:
        return {"range": [to_json(value.get("lo")), to_json(value.get("hi"))]}
    if kind in BINOPS and {k for k, _ in value.args} == {"left", "right"}:
        return {kind: [to_json(value.get("left")), to_json(value.get("right"))]}
    if len(value.args) == 1 and value.args[0][0] == "_":
        return {kind: to_json(value.args[0][1])}
    return {kind: {k: to_json(v) for k, v in value.args}}


def verdict_to_json(action: Action) -> dict:
    if action.name in ("jump", "goto"):
        return {action.name: {"target": action.get("chain")}}
    if action.name in VERDICTS:
        return {action.name: None}
    raise ValueError(f"{action.name} is not a verdict")


def is_expr(value: Any, kind: str) -> bool:
    return isinstance(value, NftExpr) and value.kind == kind
