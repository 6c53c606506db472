"""IR -> nft JSON (input for `nft -j -f`) and nft script text (input for `nft -f`).

Both declare every table, chain (base chains with type/hook/priority/policy), set and map, then
the rules in order. Neither starts with `flush ruleset` unless asked: loading the output adds to
whatever is there (nft(8), "-f"). Handles and counters are not emitted (nft assigns handles);
rule comments are.
"""

from __future__ import annotations

import json
from typing import Any

from nflens.dialects.nft.exprs import to_json
from nflens.dialects.nft.priorities import priority_name
from nflens.dialects.nft.render import Unrenderable, quote, render_rule, render_value
from nflens.dialects.nft.statements import ir_to_stmt
from nflens.errors import DialectError
from nflens.ir.rules import Chain, NamedSet, Ruleset, Table

VERSION_HEADER = {"metainfo": {"json_schema_version": 1}}


def generate_json(ruleset: Ruleset, flush: bool = False) -> str:
    """The ruleset as one libnftables-json document of `add` commands."""
    out: list[dict[str, Any]] = [VERSION_HEADER]
    if flush:
        out.append({"flush": {"ruleset": None}})
    for table in ruleset.tables:
        out.extend({"add": obj} for obj in _table_objects(table))
    return json.dumps({"nftables": out}, separators=(",", ":"))


def _table_objects(table: Table) -> list[dict[str, Any]]:
    base = {"family": table.family, "table": table.name}
    objs: list[dict[str, Any]] = [{"table": {"family": table.family, "name": table.name}}]
    # chains before sets: a verdict map's elements may jump to them
    for chain in table.chains:
        objs.append({"chain": _chain_json(base, chain)})
    objs.extend(_set_json(base, s) for s in table.sets)
    for chain in table.chains:
        for rule in chain.rules:
            body = dict(base, chain=chain.name,
                        expr=[ir_to_stmt(e, table.family, rule.counters) for e in rule.exprs])
            if rule.comment is not None:
                body["comment"] = rule.comment
            objs.append({"rule": body})
    return objs


def _chain_json(base: dict, chain: Chain) -> dict[str, Any]:
    body: dict[str, Any] = dict(base, name=chain.name)
    if chain.is_base:
        body.update(type=chain.type, hook=chain.hook, prio=chain.priority or 0,
                    policy=chain.policy or "accept")
        if chain.device:
            devs = chain.device.split(",")
            body["dev"] = devs[0] if len(devs) == 1 else devs
    return body


def _set_json(base: dict, nset: NamedSet) -> dict[str, Any]:
    body: dict[str, Any] = dict(base, name=nset.name, type=to_json(nset.type))
    if nset.is_map:
        body["map"] = to_json(nset.map_type)
    if nset.flags:
        body["flags"] = list(nset.flags)
    if nset.elements:
        body["elem"] = [to_json(list(e)) if nset.is_map and isinstance(e, tuple) else to_json(e)
                        for e in nset.elements]
    return {"map" if nset.is_map else "set": body}


# --- text -------------------------------------------------------------------------------------
def generate_text(ruleset: Ruleset, flush: bool = False) -> str:
    """An nft script. Raises DialectError when a rule has no nft spelling (an `xt` match from
    iptables-nft, for instance: nft cannot restore those either)."""
    lines = ["flush ruleset", ""] if flush else []
    for table in ruleset.tables:
        lines.append(f"table {table.family} {table.name} {{")
        for nset in table.sets:
            lines.extend(_set_text(nset))
        for chain in table.chains:
            lines.extend(_chain_text(table, chain))
        lines.append("}")
    return "\n".join(lines) + "\n"


def _chain_text(table: Table, chain: Chain) -> list[str]:
    lines = [f"\tchain {chain.name} {{"]
    if chain.is_base:
        dev = f" device {quote(chain.device)}" if chain.device and "," not in chain.device else ""
        devs = (f"\t\tdevices = {{ {', '.join(quote(d) for d in chain.device.split(','))} }};"
                if chain.device and "," in chain.device else None)
        if devs:
            lines.append(devs)
        lines.append(f"\t\ttype {chain.type} hook {chain.hook}{dev} priority "
                     f"{chain.priority or 0}; policy {chain.policy or 'accept'};")
    for index, rule in enumerate(chain.rules, start=1):
        try:
            text = render_rule(rule.exprs, table.family, rule.counters, rule.comment)
        except (Unrenderable, TypeError, KeyError) as exc:
            where = f"{table.family} {table.name} {chain.name} rule {index}"
            raise DialectError(f"cannot write {where} as nft text ({exc}); "
                               "use the JSON generator") from exc
        lines.append(f"\t\t{text}")
    lines.append("\t}")
    return lines


def _type_text(value: Any) -> str:
    if isinstance(value, tuple):
        return " . ".join(str(v) for v in value)
    return str(value)


def _set_text(nset: NamedSet) -> list[str]:
    kind = "map" if nset.is_map else "set"
    lines = [f"\t{kind} {nset.name} {{"]
    type_text = _type_text(nset.type)
    if nset.is_map:
        type_text += f" : {_type_text(nset.map_type)}"
    lines.append(f"\t\ttype {type_text}")
    if nset.flags:
        lines.append(f"\t\tflags {','.join(nset.flags)}")
    if nset.elements:
        strings = "ifname" in type_text.split(":")[0] or "string" in type_text
        items = []
        for elem in nset.elements:
            if nset.is_map and isinstance(elem, tuple):
                items.append(f"{render_value(elem[0], strings)} : {render_value(elem[1])}")
            else:
                items.append(render_value(elem, strings))
        lines.append(f"\t\telements = {{ {', '.join(items)} }}")
    lines.append("\t}")
    return lines


__all__ = ["generate_json", "generate_text", "priority_name"]
