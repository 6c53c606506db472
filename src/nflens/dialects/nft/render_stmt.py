"""Render IR Actions as nft(8) statements ("STATEMENTS": verdict, nat, reject, mark, log ...)."""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.dialects.nft.exprs import VERDICTS
from nflens.dialects.nft.render_expr import (
    Unrenderable,
    quote,
    render_expr,
    render_value,
    render_verdict,
)
from nflens.dialects.nft.statements import FULL
from nflens.ir.rules import Action, NftExpr


def render_action(action: Action, family: str, counters: tuple[int, int] | None = None) -> str:
    name = action.name
    if name in VERDICTS:
        return render_verdict(action)
    if name == "counter":
        if action.get("name"):
            return f"counter name {quote(action.get('name'))}"
        return "counter packets {} bytes {}".format(*counters) if counters else "counter"
    if name in ("dnat", "snat", "masquerade", "redirect"):
        return _nat(action, family)
    if name == "reject":
        return _reject(action, family)
    if name in ("mark", "connmark"):
        return _mark(action)
    if name == "ct":
        if action.get("zone") is not None:
            return f"ct zone set {action.get('zone')}"
        if action.get("helper") is not None:
            return f"ct helper set {quote(str(action.get('helper')))}"
    if name == "mangle":
        return f"{render_expr(action.get('key'))} set {render_expr(action.get('value'))}"
    if name == "vmap":
        return f"{render_expr(action.get('key'))} vmap {render_value(action.get('data'))}"
    if name == "notrack":
        return "notrack"
    if name == "log":
        return _log(action)
    if name == "queue":
        return _queue(action)
    if name == "xt" and action.get("text"):
        return action.get("text")  # nft's own text of a statement it has no JSON form for
    if name == "xt":
        return f"xt {action.get('type', 'target')} {action.get('name')}"
    raise Unrenderable(f"statement {name!r}")


def _range(value: tuple, brackets: bool = False) -> str:
    lo, hi = value
    fmt = (lambda a: f"[{a}]") if brackets else str
    return fmt(lo) if lo == hi else f"{fmt(lo)}-{fmt(hi)}"


def _nat(action: Action, family: str) -> str:
    name = action.name
    addr, port = action.get("addr"), action.get("port")
    text = name
    if action.get("family"):
        text += f" {action.get('family')}"
    v6 = addr is not None and isinstance(addr[0], ipaddress.IPv6Address)
    target = ""
    if action.get("addr_expr") is not None:
        target = render_expr(action.get("addr_expr"))
    elif addr is not None:
        target = _range(addr, brackets=v6 and port is not None)
    if action.get("port_expr") is not None:
        target += f":{render_expr(action.get('port_expr'))}"
    elif port is not None:
        target += f":{_range(port)}"
    if target:
        text += f" to {target}"
    flags = action.get("flags")
    if flags:
        text += " " + ",".join(flags)
    return text


def _reject(action: Action, family: str) -> str:
    how = action.get("with")
    default = {"ip": "icmp-port-unreachable", "ip6": "icmpv6-port-unreachable"}.get(
        family, "icmpx port-unreachable")
    if how is None or how == default:
        return "reject"
    if how == "tcp-reset":
        return "reject with tcp reset"
    if how.startswith("icmpx "):
        return f"reject with icmpx {how[6:]}"
    kind, _, code = how.partition("-")
    return f"reject with {kind} {code}"


def _mark(action: Action) -> str:
    if action.name == "connmark":
        mode = action.get("mode", "set")
        if mode == "save":
            return "ct mark set meta mark"
        if mode == "restore":
            return "meta mark set ct mark"
        key = "ct mark"
    else:
        key = "meta mark"
    value, mask = action.get("value", 0), action.get("mask", FULL)
    if not isinstance(value, int) or not isinstance(mask, int):
        raise Unrenderable("mark set to an expression")
    if mask == FULL:
        return f"{key} set {value:#010x}"
    keep = ~mask & FULL
    if keep == FULL:
        return f"{key} set {key} ^ {value:#010x}"
    if value & keep == 0:
        tail = f" | {value:#010x}" if value else ""
        return f"{key} set {key} & {keep:#010x}{tail}"
    return f"{key} set ({key} & {keep:#010x}) ^ {value:#010x}"


def _log(action: Action) -> str:
    parts = ["log"]
    for key in ("prefix", "level", "group", "snaplen", "queue-threshold"):
        value = action.get(key)
        if value is None:
            continue
        parts.append(f"{key} {quote(value) if key == 'prefix' else value}")
    flags = action.get("flags")
    if flags:
        flags = (flags,) if isinstance(flags, str) else flags
        parts.append("flags " + ",".join(flags))
    return " ".join(parts)


def _queue(action: Action) -> str:
    parts = ["queue"]
    flags = action.get("flags")
    if flags:
        flags = (flags,) if isinstance(flags, str) else flags
        parts.append("flags " + ",".join(flags))
    num: Any = action.get("num")
    if num is not None:
        parts.append("num " + (render_expr(num) if isinstance(num, NftExpr)
                               else render_value(num)))
    return " ".join(parts)
