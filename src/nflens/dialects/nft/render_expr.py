"""Render IR match elements in nft(8) syntax: values, expressions, comparisons, verdicts.

The spelling follows what `nft list ruleset` prints (nft(8), "PAYLOAD EXPRESSION", "META
EXPRESSIONS", "CONNTRACK EXPRESSIONS", "FIB EXPRESSIONS"), so that the text loads back with
`nft -f`. What cannot be spelled raises `Unrenderable`. Statements are in render_stmt.py and whole
rules in render.py, which import this module (never the other way: no import cycle).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from nflens.dialects.nft.exprs import BINOPS, VERDICTS
from nflens.errors import Unrenderable
from nflens.ir.rules import Action, NftCmp, NftExpr

# meta keys nft prints without the `meta` keyword (src/meta.c, meta_key_is_unqualified)
UNQUALIFIED_META = frozenset({"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup", "mark",
                              "skuid", "skgid", "nftrace", "rtclassid", "cpu", "cgroup", "iiftype",
                              "oiftype", "ibrname", "obrname", "pkttype"})
STRING_KEYS = frozenset({"iifname", "oifname", "ibrname", "obrname", "iifkind", "oifkind",
                         "sdifname", "helper", "comment"})
_BARE = re.compile(r"^[A-Za-z0-9_./:*@$]+$|^[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*$")
_KEYWORDS_QUOTED = frozenset({"type", "hook", "priority", "policy", "set", "map"})


def quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def render_value(value: Any, strings: bool = False) -> str:
    """A right-hand side or map/set element. `strings`: the key is a string type (ifname)."""
    if isinstance(value, bool):  # fib ... oif missing, exthdr/tcp option ... exists
        return "exists" if value else "missing"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value.startswith("@") or (not strings and _BARE.match(value)):
            return value
        if not strings and _is_address(value):
            return value
        return quote(value)
    if isinstance(value, Action):
        return render_verdict(value)
    if isinstance(value, tuple):  # a list of flags: ct state established,related
        if not _all_scalar(value):
            raise Unrenderable("a list of expressions")
        return ",".join(render_value(v, strings) for v in value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, NftExpr):
        return render_expr(value, strings)
    raise Unrenderable(f"value {value!r}")


def _all_scalar(values: tuple) -> bool:
    return all(isinstance(v, (str, int)) for v in values)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _elements(items: tuple, strings: bool) -> str:
    parts = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            parts.append(f"{render_value(item[0], strings)} : {render_value(item[1])}")
        else:
            parts.append(render_value(item, strings))
    return "{ " + ", ".join(parts) + " }"


def render_expr(expr: Any, strings: bool = False) -> str:
    """A key or value expression in nft syntax."""
    if not isinstance(expr, NftExpr):
        return render_value(expr, strings)
    kind, get = expr.kind, expr.get
    if kind == "payload":
        if get("protocol"):
            return f"{get('protocol')} {get('field')}"
        return f"@{get('base')},{get('offset')},{get('len')}"
    if kind == "meta":
        key = get("key")
        return key if key in UNQUALIFIED_META else f"meta {key}"
    if kind == "ct":
        return _ct(expr)
    if kind == "fib":
        flags = get("flags")
        flags = (flags,) if isinstance(flags, str) else tuple(flags or ())
        return f"fib {' . '.join(flags)} {get('result')}"
    if kind == "prefix":
        return f"{get('addr')}/{get('len')}"
    if kind == "range":
        return f"{render_value(get('lo'), strings)}-{render_value(get('hi'), strings)}"
    if kind == "set":
        return _elements(get("elements"), strings)
    if kind == "concat":
        return " . ".join(render_expr(i, strings) for i in get("items"))
    if kind in BINOPS:
        return f"{_operand(get('left'))} {kind} {_operand(get('right'))}"
    if kind == "map":
        return f"{render_expr(get('key'))} map {render_value(get('data'))}"
    if kind == "elem":
        return render_value(get("val"), strings)
    return _misc(expr)


def _operand(value: Any) -> str:
    text = render_expr(value)
    if isinstance(value, NftExpr) and value.kind in BINOPS:
        return f"({text})"
    if isinstance(value, tuple) and len(value) > 1:  # flags: (syn | ack)
        return "(" + " | ".join(render_value(v) for v in value) + ")"
    return text


def _ct(expr: NftExpr) -> str:
    parts = ["ct"]
    if expr.get("dir"):
        parts.append(expr.get("dir"))
    if expr.get("family"):
        parts.append(expr.get("family"))
    parts.append(expr.get("key"))
    return " ".join(parts)


def _misc(expr: NftExpr) -> str:
    kind, get = expr.kind, expr.get
    if kind == "rt":
        family = f"{get('family')} " if get("family") else ""
        return f"rt {family}{get('key')}"
    if kind == "socket":
        return f"socket {get('key')}"
    if kind == "numgen":
        offset = f" offset {get('offset')}" if get("offset") else ""
        return f"numgen {get('mode')} mod {get('mod')}{offset}"
    if kind == "exthdr":
        field = f" {get('field')}" if get("field") else ""
        return f"{get('name')}{field}" if get("offset") is None else f"exthdr {get('name')}"
    if kind == "tcp option":
        field = f" {get('field')}" if get("field") else ""
        return f"tcp option {get('name')}{field}"
    if kind == "osf":
        return f"osf {get('key')}"
    if kind == "limit":
        return _limit(expr)
    if kind == "xt":
        return f"xt {get('type')} {get('name')}"
    raise Unrenderable(f"expression {kind!r}")


def _limit(expr: NftExpr) -> str:
    get = expr.get
    inv = "over " if get("inv") else ""
    unit = get("rate_unit")
    rate = f"{get('rate')}" + (f" {unit}" if unit and unit != "packets" else "")
    text = f"limit rate {inv}{rate}/{get('per')}"
    if get("burst"):
        bunit = get("burst_unit") if unit and unit != "packets" else "packets"
        text += f" burst {get('burst')} {bunit or 'packets'}"
    return text


def render_cmp(cmp: NftCmp) -> str:
    strings = isinstance(cmp.left, NftExpr) and cmp.left.get("key") in STRING_KEYS
    left = render_expr(cmp.left)
    right = render_value(cmp.right, strings) if not isinstance(cmp.right, NftExpr) \
        else render_expr(cmp.right, strings)
    implicit = not (isinstance(cmp.left, NftExpr) and cmp.left.kind in BINOPS)
    if cmp.op == "in" or (cmp.op == "==" and implicit):
        return f"{left} {right}"
    return f"{left} {cmp.op} {right}"


def render_verdict(action: Action) -> str:
    if action.name in ("jump", "goto"):
        return f"{action.name} {action.get('chain')}"
    if action.name in VERDICTS:
        return action.name
    raise Unrenderable(f"verdict {action.name}")


__all__ = ["Unrenderable", "quote", "render_cmp", "render_expr", "render_value", "render_verdict"]
