"""Concrete evaluation of nftables relations, shared by the nft_* match modules.

An nft rule's match is `left op right` (net/netfilter/nft_cmp.c, nft_range.c, nft_lookup.c,
nft_bitwise.c): the key expression (payload, meta, ct, fib ...) loads a value into a register,
then a comparison, range test or set lookup decides. If the key cannot be loaded for this
packet (no TCP header for `tcp dport`, no conntrack entry for `ct mark`, no input device for
`iifname`), the expression sets NFT_BREAK and the rule does not match, whatever the operator:
that is `MISSING` here. nft also adds an implicit protocol dependency to payload matches
(`tcp dport 80` is `meta l4proto tcp tcp dport 80`, nft(8) "PAYLOAD EXPRESSION"), which gives
the same result.

Values: ints for ports, protocol numbers and marks; ipaddress objects for addresses; str for
interface names; frozensets of lower-case names for bit flags (ct state, ct status, tcp flags);
tuples for concatenations; False for a FIB result that does not exist.
"""

from __future__ import annotations

import importlib
import ipaddress
from types import ModuleType
from typing import Any

from nflens.ir.rules import Action, NftCmp, NftExpr
from nflens.kernel.context import (
    MatchResult,
    PacketContext,
    Unknown,
    all_of,
    any_of,
    describe,
)
from nflens.kernel.matches.nft_symbols import number


class _Missing:
    """The key cannot be loaded for this packet (NFT_BREAK): the rule does not match."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
_PROVIDERS = {"payload": "nft_payload", "meta": "nft_meta", "ct": "nft_ct", "fib": "nft_fib"}
FLAG_DOMAINS = frozenset({"ct_state", "ct_status", "tcp_flags"})


def _provider(kind: str) -> ModuleType:
    """The module evaluating one kind of nft expression, imported on first use (they import
    this module) and then remembered: `import_module` costs a lock and a lookup per call."""
    mod = _LOADED.get(kind)
    if mod is None:
        name = _PROVIDERS.get(kind, "nft_misc")
        mod = _LOADED[kind] = importlib.import_module(f"nflens.kernel.matches.{name}")
    return mod


_LOADED: dict[str, ModuleType] = {}


def value_of(expr: Any, ctx: PacketContext) -> Any:
    """Evaluate a key expression to a Python value, MISSING, or Unknown."""
    if not isinstance(expr, NftExpr):
        return expr
    return _provider(expr.kind).value(expr, ctx)


def domain_of(expr: Any) -> Any:
    """What kind of value `expr` yields, for reading symbolic names on the right
    ("inet_proto", "icmp_type", "ct_state", ...); a tuple for concatenations."""
    if not isinstance(expr, NftExpr):
        return None
    if expr.kind == "concat":
        return tuple(domain_of(i) for i in expr.get("items", ()))
    return _provider(expr.kind).domain(expr)


def table_of(ctx: PacketContext) -> str | None:
    for key, value in reversed(ctx.extra):
        if key == "table":
            return value
    return None


def evaluate_cmp(cmp: Any, ctx: PacketContext) -> MatchResult:
    """The match module entry point: NftCmp -> bool | Unknown (a bare NftExpr -> Unknown)."""
    if isinstance(cmp, NftExpr):
        return Unknown(f"nft {cmp.kind} is not modelled")
    if not isinstance(cmp, NftCmp):
        return Unknown(f"not an nft relation: {describe(cmp)}")
    value = value_of(cmp.left, ctx)
    if isinstance(value, Unknown):
        return value
    if value is MISSING:
        return False
    return compare(cmp.op, value, cmp.right, ctx, domain_of(cmp.left))


def compare(op: str, value: Any, right: Any, ctx: PacketContext,
            domain: Any = None) -> MatchResult:
    """`value op right` as nft_cmp/nft_range/nft_lookup decide it; Unknown when a named set's
    contents are not known."""
    if value is MISSING:
        return False
    if isinstance(value, Unknown):
        return value
    if op == "!" and isinstance(value, frozenset):
        # nft's flag negation: `ct status ! dnat` is how nft lists `ct status & dnat == 0`
        # (nftables src/netlink_delinearize.c: a bitwise and compared to 0 becomes OP_NEG):
        # none of the named flags is set. Lab: tests/lab/test_lab_nft_fix.py host `native`
        # (a direct-access drop written this way drops the non-DNATed connection)
        names = right if isinstance(right, tuple) else (right,)
        return not value & frozenset(str(r).lower() for r in names)
    if op in ("==", "!=", "in"):
        hit = _contains(value, right, ctx, domain, exact=op == "==")
        if isinstance(hit, Unknown) or op != "!=":
            return hit
        return not hit
    bound = coerce(right, value, domain, ctx)
    if bound is None or isinstance(value, (frozenset, tuple, bool)):
        return Unknown(f"cannot order {describe(value)} against {describe(right)}")
    try:
        return {"<": value < bound, ">": value > bound, "<=": value <= bound,
                ">=": value >= bound}[op]
    except (KeyError, TypeError):
        return Unknown(f"unsupported comparison {op!r}")


def _contains(value: Any, right: Any, ctx: PacketContext, domain: Any,
              exact: bool) -> MatchResult:
    if isinstance(right, str) and right.startswith("@"):
        elements = set_elements(ctx, right[1:])
        if elements is None:
            return Unknown(f"contents of set {right} are not in the snapshot")
        return any_of(elem_match(value, e, domain, ctx, exact) for e in elements)
    if isinstance(right, NftExpr) and right.kind == "set":
        return any_of(elem_match(value, e, domain, ctx, exact)
                      for e in right.get("elements", ()))
    if isinstance(right, tuple) and isinstance(value, frozenset):
        names = frozenset(str(r).lower() for r in right)
        if exact and domain != "ct_state":  # `tcp flags == syn,ack`: exact bit pattern
            return value == names
        return bool(value & names)  # a list of flags: (value & mask) != 0
    return elem_match(value, right, domain, ctx, exact)


def set_elements(ctx: PacketContext, name: str) -> Any:
    table = table_of(ctx)
    if table is None:
        return None
    return ctx.env.set_elements(ctx.family, table, name)


def elem_match(value: Any, elem: Any, domain: Any, ctx: PacketContext,
               exact: bool = True) -> MatchResult:
    """Does `value` fall in one set element (value, prefix, range, concatenation, map key)?
    Unknown when the host model cannot say (a device index under the symbolic null host)."""
    if isinstance(elem, tuple) and len(elem) == 2 and not isinstance(value, tuple):
        elem = elem[0]  # a map element (key, data)
    elif isinstance(elem, tuple) and len(elem) == 2 and isinstance(value, tuple) \
            and isinstance(elem[0], NftExpr) and elem[0].kind == "concat":
        elem = elem[0]
    if isinstance(elem, NftExpr):
        return _expr_elem(value, elem, domain, ctx, exact)
    if isinstance(value, frozenset):
        name = str(elem).lower()
        return value == frozenset({name}) if exact and domain != "ct_state" else name in value
    if isinstance(value, str) and isinstance(elem, str):
        return ifname_match(value, elem)
    if isinstance(value, str) and isinstance(elem, int):  # iif "lo" given as an index
        index = ctx.env.interface_index(value)
        return index if isinstance(index, Unknown) else index == elem
    if isinstance(elem, bool):  # `exists` / `missing` (fib, exthdr, tcp option)
        return (value is not False and value is not None) == elem
    if isinstance(value, bool):
        return value == elem
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)) and isinstance(elem, str) \
            and "/" in elem:
        net = _network(elem)
        return net is not None and value in net
    other = coerce(elem, value, domain, ctx)
    return other is not None and other == value


def _expr_elem(value: Any, elem: NftExpr, domain: Any, ctx: PacketContext,
               exact: bool) -> MatchResult:
    kind = elem.kind
    if kind == "elem":
        return elem_match(value, elem.get("val"), domain, ctx, exact)
    if kind == "prefix":
        net = _network(f"{elem.get('addr')}/{elem.get('len')}")
        return net is not None and isinstance(value, (ipaddress.IPv4Address,
                                                       ipaddress.IPv6Address)) and value in net
    if kind == "range":
        lo = coerce(elem.get("lo"), value, domain, ctx)
        hi = coerce(elem.get("hi"), value, domain, ctx)
        try:
            return lo is not None and hi is not None and lo <= value <= hi
        except TypeError:
            return False
    if kind == "concat":
        items = elem.get("items", ())
        if not isinstance(value, tuple) or len(items) != len(value):
            return False
        doms = domain if isinstance(domain, tuple) else (None,) * len(items)
        return all_of(elem_match(v, i, d, ctx, exact) for v, i, d in zip(value, items, doms))
    return False


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def ifname_match(name: str, pattern: str) -> bool:
    """nft interface names: a trailing `*` is a prefix wildcard (nft(8) "meta iifname"; the
    kernel compares only the given prefix length), `\\*` a literal star."""
    if pattern.endswith("\\*"):
        return name == pattern[:-2] + "*"
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def coerce(raw: Any, like: Any, domain: Any, ctx: PacketContext | None = None) -> Any:
    """Read a right-hand constant as the same type as the key's value `like`."""
    if isinstance(like, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        try:
            return ipaddress.ip_address(str(raw))
        except ValueError:
            return None
    if isinstance(like, int) and not isinstance(like, bool):
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            known = number(domain if isinstance(domain, str) else None, raw)
            if known is not None:
                return known
            try:
                return int(raw, 0)
            except ValueError:
                return None
        return None
    if isinstance(like, str):
        return raw if isinstance(raw, str) else None
    return raw


def verdict_of(data: Any) -> Action | None:
    """A verdict map's data as the Action the chain walker runs."""
    if isinstance(data, Action):
        return data
    if isinstance(data, NftExpr) and data.kind in ("jump", "goto"):
        return Action(data.kind, (("chain", data.get("target")),))
    if isinstance(data, NftExpr) and data.kind in ("accept", "drop", "continue", "return"):
        return Action(data.kind)
    if isinstance(data, str) and data in ("accept", "drop", "continue", "return"):
        return Action(data)
    return None


def resolve_vmap(action: Action, ctx: PacketContext) -> Action | Unknown | None:
    """The verdict a `KEY vmap { ... }` / `KEY vmap @map` statement picks (nft_lookup.c with a
    verdict map): the Action, None when no element matches (the rule goes on), or Unknown."""
    key = action.get("key")
    value = value_of(key, ctx)
    if isinstance(value, Unknown):
        return value
    if value is MISSING:
        return None
    data = action.get("data")
    if isinstance(data, str) and data.startswith("@"):
        elements = set_elements(ctx, data[1:])
        if elements is None:
            return Unknown(f"contents of verdict map {data} are not in the snapshot")
    elif isinstance(data, NftExpr) and data.kind == "set":
        elements = data.get("elements", ())
    else:
        return Unknown(f"verdict map data {describe(data)} is not modelled")
    names = _names_index(elements) if isinstance(value, str) else None
    if names is not None:  # every key a plain interface name: the first equal one is the pick
        at = names.get(value)
        candidates = () if at is None else (elements[at],)
    else:
        candidates = elements
    domain = domain_of(key)
    for elem in candidates:
        if not (isinstance(elem, tuple) and len(elem) == 2):
            continue
        hit = elem_match(value, elem[0], domain, ctx)
        if isinstance(hit, Unknown):  # the first matching element picks: this one may be it
            return hit
        if hit:
            return verdict_of(elem[1]) or Unknown(f"verdict {describe(elem[1])} is not modelled")
    return None


def _names_index(elements: Any) -> dict[str, int] | None:
    """Position of the first element per key, when every key of a verdict map is a plain name
    (no `*` wildcard or escape), so a name looks its element up instead of trying each in
    order (Docker 29's `iifname vmap @filter-forward-out-jumps`: one element per network).
    For a string value and a plain-name key elem_match is ifname_match, i.e. equality, so
    the first equal key is the one the walk in order finds. None: walk in order."""
    if not isinstance(elements, (tuple, list)):
        return None
    kept = _NAMES.get(id(elements))
    if kept is not None and kept[0] is elements:
        return kept[1]
    index: dict[str, int] = {}
    plain = True
    for i, elem in enumerate(elements):
        k = elem[0] if isinstance(elem, tuple) and len(elem) == 2 else None
        if not isinstance(k, str) or "*" in k or "\\" in k:
            plain = False
            break
        index.setdefault(k, i)
    if len(_NAMES) >= 4096:
        _NAMES.clear()
    # the elements are kept alive with their index, so their id stays theirs
    _NAMES[id(elements)] = (elements, index if plain else None)
    return index if plain else None


_NAMES: dict[int, tuple[Any, dict[str, int] | None]] = {}
