"""`nft -j list ruleset` (libnftables-json(5)) -> Ruleset.

The dump is one object {"nftables": [...]}: metainfo, then tables, chains, sets/maps and rules,
each referring to its table by (family, name). Rules come after all chains; within a chain they
are listed in evaluation order (nft lists a chain's rules by position), so appearance order is
rule order. Positions ("line") are 1-based indexes into that array, which is what errors and
Unsupported entries carry: the dump itself is usually a single line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nflens import safejson
from nflens.dialects.nft.exprs import to_ir
from nflens.dialects.nft.priorities import priority_value
from nflens.dialects.nft.render import rule_text
from nflens.dialects.nft.statements import stmt_to_ir
from nflens.errors import ParseError
from nflens.ir.rules import Chain, NamedSet, Rule, Ruleset, Source, Table, Unsupported
from nflens.lenient import Lenience
from nflens.literal import quoted

FAMILIES = ("ip", "ip6", "inet", "bridge", "arp", "netdev")
COMMANDS = ("add", "create", "insert", "replace")
IGNORED = ("metainfo",)


@dataclass
class _Table:
    family: str
    name: str
    source: Source
    chains: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    sets: list[NamedSet] = field(default_factory=list)


@dataclass
class _State:
    file: str
    tables: dict[tuple[str, str], _Table] = field(default_factory=dict)
    unsupported: list[Unsupported] = field(default_factory=list)
    warnings: list[tuple[str, int, str]] = field(default_factory=list)
    lenience: Lenience = field(init=False)

    def __post_init__(self) -> None:
        self.lenience = Lenience(self.file, messages=self.warnings)


def load_document(text: str, file: str) -> list:
    """Decode the JSON and return the `nftables` array, or raise ParseError with a line."""
    doc = safejson.loads(text, file, "not valid JSON")  # also: no Infinity, no deep nesting
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise ParseError('not an nft JSON dump: expected {"nftables": [...]} '
                         "(the output of `nft -j list ruleset`)", file, 1)
    return doc["nftables"]


def parse_json(text: str, file: str = "<input>") -> Ruleset:
    """Parse an `nft -j list ruleset` dump into the IR (see the package docstring)."""
    state = _State(file)
    for index, obj in enumerate(load_document(text, file), start=1):
        try:
            _object(state, obj, index)
        except ParseError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError,
                ArithmeticError) as exc:
            raise ParseError(f"bad nft JSON object: {_why(exc)}", file, index) from exc
    return Ruleset(tables=tuple(_finish(t) for t in state.tables.values()), dialect="nft-json",
                   unsupported=tuple(state.unsupported), warnings=tuple(state.warnings))


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _object(state: _State, obj: Any, index: int) -> None:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ParseError("each element of the nftables array must be an object with one key",
                         state.file, index)
    (kind, body), = obj.items()
    if kind in COMMANDS and isinstance(body, dict) and len(body) == 1:
        (kind, body), = body.items()  # `nft -j -f` input: {"add": {"table": {...}}}
    if kind in IGNORED:
        return
    if kind == "table":
        _add_table(state, body, index)
    elif kind == "chain":
        _add_chain(state, body, index)
    elif kind in ("set", "map"):
        _add_set(state, kind, body)
    elif kind == "rule":
        _add_rule(state, body, index)
    else:
        state.warnings.append((state.file, index, f"ignored nft object {kind!r}"))


def _family(body: dict) -> str:
    family = body["family"]
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
    return family


def _table(state: _State, body: dict, index: int) -> _Table:
    key = (_family(body), body["table"])
    table = state.tables.get(key)
    if table is None:  # tolerate objects listed before their table
        table = state.tables[key] = _Table(key[0], key[1], Source(state.file, index, ""))
    return table


def _add_table(state: _State, body: dict, index: int) -> None:
    family, name = _family(body), body["name"]
    if not isinstance(name, str):
        raise ValueError("table name must be a string")
    text = f"table {family} {name}"
    state.tables.setdefault((family, name), _Table(family, name, Source(state.file, index, text)))


def _add_chain(state: _State, body: dict, index: int) -> None:
    table = _table(state, body, index)
    name = body["name"]
    if not isinstance(name, str):
        raise ValueError("chain name must be a string")
    info: dict[str, Any] = {"name": name, "source": Source(state.file, index, f"chain {name}")}
    if body.get("hook") is not None:
        info["hook"] = str(body["hook"])
        # `nft -j list ruleset` always writes these for a base chain; a document without them
        # (hand-written, cut) gets nft's own defaults, named as assumptions
        where = f"base chain {table.family} {table.name} {name}:"
        prio = body["prio"] if "prio" in body else state.lenience.assume(
            f"{where} priority", 0, index, "none given")
        info["priority"] = priority_value(prio, table.family)
        info["policy"] = body["policy"] if "policy" in body else state.lenience.assume(
            f"{where} policy", "accept", index, "none given")
        info["type"] = body["type"] if "type" in body else state.lenience.assume(
            f"{where} type", "filter", index, "none given")
        dev = body.get("dev")
        if dev is not None:
            info["device"] = dev if isinstance(dev, str) else ",".join(dev)
    table.chains.setdefault(name, info)
    table.rules.setdefault(name, [])


def _add_set(state: _State, kind: str, body: dict) -> None:
    table = _table(state, body, 0)
    is_map = kind == "map"
    elements = []
    for elem in body.get("elem", ()) or ():
        if is_map and isinstance(elem, list) and len(elem) == 2:
            elements.append((to_ir(elem[0]), to_ir(elem[1])))
        else:
            elements.append(to_ir(elem))
    flags = body.get("flags", ())
    table.sets.append(NamedSet(
        name=str(body["name"]), type=to_ir(body.get("type")), elements=tuple(elements),
        is_map=is_map, map_type=to_ir(body.get("map")) if is_map else None,
        flags=tuple([flags] if isinstance(flags, str) else flags)))


def _add_rule(state: _State, body: dict, index: int) -> None:
    table = _table(state, body, index)
    chain = body["chain"]
    if chain not in table.chains:
        raise ValueError(f"rule for chain {quoted(chain)}, which table {table.family} {table.name} "
                         "does not have")
    statements = body.get("expr") or []
    if not isinstance(statements, list):
        raise ValueError("rule expr must be a list of statements")
    exprs, counters, notes = [], None, []
    for stmt in statements:
        conv = stmt_to_ir(stmt, table.family)
        exprs.append(conv.expr)
        counters = conv.counters if conv.counters is not None else counters
        if conv.unsupported:
            notes.append(conv.unsupported)
    comment = body.get("comment")
    raw = {"rule": body}
    text = rule_text(tuple(exprs), table.family, counters, comment, raw=raw)
    source = Source(state.file, index, text)
    compact = json.dumps(raw, separators=(",", ":"))
    for what in notes:
        state.unsupported.append(Unsupported(state.file, index, compact, what))
    handle = body.get("handle")
    table.rules[chain].append(Rule(tuple(exprs), source, counters,
                                   handle if isinstance(handle, int) else None,
                                   comment if isinstance(comment, str) else None))


def _finish(table: _Table) -> Table:
    chains = tuple(Chain(rules=tuple(table.rules[name]), **info)
                   for name, info in table.chains.items())
    return Table(table.family, table.name, chains, tuple(table.sets), "nft", table.source)
