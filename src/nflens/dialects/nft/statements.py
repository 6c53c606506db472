"""libnftables-json statements <-> IR expressions (`NftCmp`, `Action`, match-like `NftExpr`).

The names and options of the Actions are what the simulator (kernel/chain.py, kernel/nat.py)
reads. Marks follow nft_bitwise (net/netfilter/nft_bitwise.c): the kernel computes
`new = (old & mask) ^ xor`; nft compiles `meta mark set meta mark and A or B` to mask = A & ~B,
xor = B. The IR keeps `mark (("value", v), ("mask", m))` meaning new = (old & ~m) ^ v, so the
kernel's mask is ~m.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.dialects.nft.exprs import BINOPS, VERDICTS, is_expr, to_ir, to_json, verdict_to_ir
from nflens.ir.rules import Action, NftCmp, NftExpr

FULL = 0xFFFFFFFF
# Statements that behave like matches (they may stop the rule): evaluation returns Unknown.
MATCH_LIKE = frozenset({"limit", "quota", "ct count", "connlimit", "last", "meter"})
# Statements kept as Action(key, converted args) with no effect on the verdict the model needs.
GENERIC = frozenset({"log", "queue", "dup", "fwd", "tproxy", "synproxy", "set", "map", "secmark",
                     "ct timeout", "ct expectation", "flow", "inner"})
# Of those, the ones the simulator does not model (listed in Ruleset.unsupported).
UNMODELLED = frozenset({"dup", "fwd", "synproxy", "set", "map", "flow", "meter",
                        "ct timeout", "ct expectation", "inner"})
REJECT_DEFAULT = {"ip": "icmp-port-unreachable", "ip6": "icmpv6-port-unreachable"}


class Converted:
    """The IR of one statement, the counters it carried, and why it is unsupported (or None)."""

    __slots__ = ("expr", "counters", "unsupported")

    def __init__(self, expr: Any, counters: tuple[int, int] | None = None,
                 unsupported: str | None = None):
        self.expr, self.counters, self.unsupported = expr, counters, unsupported


def stmt_to_ir(stmt: dict, family: str) -> Converted:
    """One JSON statement object -> its IR element. Raises ValueError on malformed input."""
    if isinstance(stmt, str) and stmt.strip():
        # libnftables prints a statement it has no JSON form for as its text (src/json.c,
        # stmt_print_json's fallback), e.g. `add @map1 { ip saddr . ip daddr : meta mark }`:
        # nft accepted the rule, so keep it, opaque and named
        return Converted(Action("xt", (("name", "statement"), ("text", stmt), ("type", "text"))),
                         unsupported=f"statement nft prints only as text: {stmt}")
    if not isinstance(stmt, dict) or len(stmt) != 1:
        raise ValueError(f"a statement must be an object with one key, not {stmt!r}")
    (key, body), = stmt.items()
    if key == "match":
        return Converted(_match(body))
    if key in VERDICTS:
        return Converted(verdict_to_ir(key, body))
    if key == "counter":
        return _counter(body)
    if key in ("dnat", "snat", "masquerade", "redirect"):
        return _nat(key, body or {})
    if key == "mangle":
        return Converted(mangle_to_ir(to_ir(body["key"]), to_ir(body["value"])))
    if key == "reject":
        return Converted(_reject(body or {}, family))
    if key == "vmap":
        return Converted(Action("vmap", (("data", to_ir(body["data"])),
                                         ("key", to_ir(body["key"])))))
    if key == "notrack":
        return Converted(Action("notrack"))
    if key == "ct helper":
        return Converted(Action("ct", (("helper", to_ir(body)),)))
    if key == "xt":
        return _xt(body)
    if key in MATCH_LIKE:
        what = f"{key} (rate/state kept outside the packet) is not modelled"
        return Converted(to_ir({key: body}), unsupported=what)
    if key in GENERIC:
        action = Action(key, _args(body))
        return Converted(action, unsupported=f"{key} statement" if key in UNMODELLED else None)
    return Converted(Action(f"unknown:{key}", (("json", to_ir(body)),)),
                     unsupported=f"unknown statement {key!r}")


def _args(body: Any) -> tuple:
    if isinstance(body, dict):
        return tuple(sorted((k, to_ir(v)) for k, v in body.items()))
    return (("_", to_ir(body)),)


def _match(body: dict) -> NftCmp:
    op = body.get("op", "==")
    if "left" not in body or "right" not in body:
        raise ValueError("match needs left and right")
    if op == "<=" or op == "⇐":
        op = "<="
    return NftCmp(op, to_ir(body["left"]), to_ir(body["right"]))


def _counter(body: Any) -> Converted:
    if isinstance(body, str):
        return Converted(Action("counter", (("name", body),)))
    if isinstance(body, dict):
        return Converted(Action("counter"),
                         (int(body.get("packets", 0)), int(body.get("bytes", 0))))
    return Converted(Action("counter"))


def _xt(body: Any) -> Converted:
    body = body if isinstance(body, dict) else {}
    name, kind = body.get("name", "?"), body.get("type", "match")
    what = f"xt {kind} {name!r} (an iptables-nft extension, opaque in nft JSON)"
    if kind == "target":
        return Converted(Action("xt", (("name", name), ("type", "target"))), unsupported=what)
    return Converted(NftExpr("xt", (("name", name), ("type", kind))), unsupported=what)


# --- NAT -------------------------------------------------------------------------------------
def _nat(key: str, body: dict) -> Converted:
    """dnat/snat: ("addr", (lo, hi)|None), ("port", (lo, hi)|None), optional family and flags.
    An address or port given by an expression is kept as addr_expr/port_expr; a map lookup the
    simulator evaluates (kernel/natmap.py), any other expression is reported."""
    opts: dict[str, Any] = {"port": None}
    unsupported = None
    if key in ("dnat", "snat"):
        opts["addr"] = None
        if "addr" in body:
            addr = _addr_range(body["addr"])
            if addr is None:
                opts["addr_expr"] = to_ir(body["addr"])
                if not _is_map(body["addr"]):
                    unsupported = f"{key} to an address computed by an expression"
            else:
                opts["addr"] = addr
        if "family" in body:
            opts["family"] = body["family"]
    if "port" in body:
        port = _port_range(body["port"])
        if port is None:
            opts["port_expr"] = to_ir(body["port"])
            if not _is_map(body["port"]):
                unsupported = f"{key} to a port computed by an expression"
        else:
            opts["port"] = port
    if body.get("flags"):
        flags = body["flags"]
        opts["flags"] = tuple([flags] if isinstance(flags, str) else flags)
    for extra in set(body) - {"addr", "port", "family", "flags"}:
        opts[extra] = to_ir(body[extra])
    return Converted(Action(key, tuple(sorted(opts.items()))), unsupported=unsupported)


def _is_map(value: Any) -> bool:
    return isinstance(value, dict) and "map" in value


def _addr_range(value: Any):
    try:
        if isinstance(value, str):
            addr = ipaddress.ip_address(value)
            return (addr, addr)
        if isinstance(value, dict) and "range" in value:
            lo, hi = value["range"]
            return (ipaddress.ip_address(lo), ipaddress.ip_address(hi))
        if isinstance(value, dict) and "prefix" in value:
            net = ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}",
                                       strict=False)
            return (net.network_address, net.broadcast_address)
    except (ValueError, TypeError, KeyError):
        return None
    return None


def _port_range(value: Any):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, dict) and isinstance(value.get("range"), list):
        lo, hi = value["range"]
        if isinstance(lo, int) and isinstance(hi, int):
            return (lo, hi)
    return None


def nat_to_json(action: Action) -> dict:
    body: dict[str, Any] = {}
    addr = action.get("addr")
    if action.get("addr_expr") is not None:
        body["addr"] = to_json(action.get("addr_expr"))
    elif addr is not None:
        lo, hi = addr
        body["addr"] = str(lo) if lo == hi else {"range": [str(lo), str(hi)]}
    port = action.get("port")
    if action.get("port_expr") is not None:
        body["port"] = to_json(action.get("port_expr"))
    elif port is not None:
        body["port"] = port[0] if port[0] == port[1] else {"range": list(port)}
    for key, value in action.opts:
        if key not in ("addr", "port", "addr_expr", "port_expr"):
            body[key] = to_json(value)
    return {action.name: body or None}


# --- mangle: marks, ct marks, ct zone ---------------------------------------------------------
def _is_key(x: Any, kind: str, key: str) -> bool:
    return is_expr(x, kind) and x.get("key") == key and x.get("dir") is None


def _bitwise(value: Any, kind: str, key: str) -> tuple[int, int] | None:
    """(kernel mask, xor) when `value` is `KEY`, an int, or KEY combined with ints by & | ^."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value & FULL)
    if _is_key(value, kind, key):
        return (FULL, 0)
    if not (isinstance(value, NftExpr) and value.kind in ("&", "|", "^")):
        return None
    inner, const = value.get("left"), value.get("right")
    if not isinstance(const, int) or isinstance(const, bool):
        return None
    sub = _bitwise(inner, kind, key)
    if sub is None:
        return None
    mask, xor = sub
    if value.kind == "&":
        return (mask & const, xor & const)
    if value.kind == "|":
        return (mask & ~const & FULL, (xor & ~const & FULL) | const)
    return (mask, xor ^ const)


def mangle_to_ir(key: Any, value: Any) -> Action:
    """`meta mark set ...`, `ct mark set ...`, `ct zone set N` to the simulator's Actions."""
    if _is_key(key, "meta", "mark"):
        if _is_key(value, "ct", "mark"):
            return Action("connmark", (("mask", FULL), ("mode", "restore")))
        bits = _bitwise(value, "meta", "mark")
        if bits is not None:
            return Action("mark", (("mask", ~bits[0] & FULL), ("value", bits[1])))
    if _is_key(key, "ct", "mark"):
        if _is_key(value, "meta", "mark"):
            return Action("connmark", (("mode", "save"),))
        bits = _bitwise(value, "ct", "mark")
        if bits is not None:
            return Action("connmark", (("mask", ~bits[0] & FULL), ("mode", "set"),
                                       ("value", bits[1])))
    if _is_key(key, "ct", "zone") and isinstance(value, int):
        return Action("ct", (("zone", value),))
    return Action("mangle", (("key", key), ("value", value)))


def _mark_value_json(kind: str, key: str, value: int, mask: int) -> Any:
    """The nft expression for new = (old & ~mask) ^ value."""
    if mask == FULL:
        return value
    keep = ~mask & FULL
    ref = {kind: {"key": key}}
    if keep == FULL:
        return {"^": [ref, value]} if value else ref
    if value & keep == 0:
        base = {"&": [ref, keep]}
        return {"|": [base, value]} if value else base
    return {"^": [{"&": [ref, keep]}, value]}


def mangle_to_json(action: Action) -> dict:
    name = action.name
    if name == "mark":
        value = _mark_value_json("meta", "mark", action.get("value", 0), action.get("mask", FULL))
        return {"mangle": {"key": {"meta": {"key": "mark"}}, "value": value}}
    if name == "connmark":
        mode = action.get("mode", "set")
        if mode == "save":
            return {"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"meta": {"key": "mark"}}}}
        if mode == "restore":
            return {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"ct": {"key": "mark"}}}}
        value = _mark_value_json("ct", "mark", action.get("value", 0), action.get("mask", FULL))
        return {"mangle": {"key": {"ct": {"key": "mark"}}, "value": value}}
    if name == "ct" and action.get("zone") is not None:
        return {"mangle": {"key": {"ct": {"key": "zone"}}, "value": action.get("zone")}}
    if name == "ct" and action.get("helper") is not None:
        return {"ct helper": to_json(action.get("helper"))}
    return {"mangle": {"key": to_json(action.get("key")), "value": to_json(action.get("value"))}}


# --- reject ----------------------------------------------------------------------------------
def _reject(body: dict, family: str) -> Action:
    """("with", ...): "tcp-reset", "icmp-<code>", "icmpv6-<code>", "icmpx <code>".
    A bare `reject` sends the family's port-unreachable (nft(8) REJECT STATEMENT; inet, bridge
    and netdev use icmpx, which picks ICMP or ICMPv6 by the packet)."""
    kind, code = body.get("type"), body.get("expr")
    if kind is None:
        return Action("reject", (("with", REJECT_DEFAULT.get(family, "icmpx port-unreachable")),))
    if kind == "tcp reset":
        return Action("reject", (("with", "tcp-reset"),))
    code = code if code is not None else "port-unreachable"
    if kind == "icmpx":
        return Action("reject", (("with", f"icmpx {code}"),))
    return Action("reject", (("with", f"{kind}-{code}"),))


def reject_to_json(action: Action, family: str) -> dict:
    how = action.get("with")
    if how is None or how == REJECT_DEFAULT.get(family, "icmpx port-unreachable"):
        return {"reject": None}
    if how == "tcp-reset":
        return {"reject": {"type": "tcp reset"}}
    if how.startswith("icmpx "):
        return {"reject": {"type": "icmpx", "expr": how[6:]}}
    kind, _, code = how.partition("-")
    return {"reject": {"type": kind, "expr": code}}


# --- back to JSON ----------------------------------------------------------------------------
def ir_to_stmt(expr: Any, family: str, counters: tuple[int, int] | None = None) -> dict:
    """One IR element of a rule -> its JSON statement."""
    if isinstance(expr, NftCmp):
        return {"match": {"op": expr.op, "left": to_json(expr.left), "right": to_json(expr.right)}}
    if isinstance(expr, NftExpr):
        return to_json(expr)
    if not isinstance(expr, Action):
        raise ValueError(f"not an nft rule element: {expr!r}")
    name = expr.name
    if name in VERDICTS:
        return to_json(expr)
    if name == "counter":
        if expr.get("name"):
            return {"counter": expr.get("name")}
        packets, octets = counters or (0, 0)
        return {"counter": {"packets": packets, "bytes": octets}}
    if name in ("dnat", "snat", "masquerade", "redirect"):
        return nat_to_json(expr)
    if name in ("mark", "connmark", "mangle") or name == "ct":
        return mangle_to_json(expr)
    if name == "reject":
        return reject_to_json(expr, family)
    if name == "vmap":
        return {"vmap": {"key": to_json(expr.get("key")), "data": to_json(expr.get("data"))}}
    if name == "notrack":
        return {"notrack": None}
    if name == "xt":
        return {"xt": {"type": expr.get("type", "target"), "name": expr.get("name")}}
    if name.startswith("unknown:"):
        return {name[len("unknown:"):]: to_json(expr.get("json"))}
    if len(expr.opts) == 1 and expr.opts[0][0] == "_":
        return {name: to_json(expr.opts[0][1])}
    return {name: {k: to_json(v) for k, v in expr.opts} or None}


__all__ = ["BINOPS", "Converted", "ir_to_stmt", "mangle_to_ir", "stmt_to_ir"]
