"""`nft list ruleset` text -> Ruleset, through the real nft in a scratch namespace.

1. Named chain priorities are replaced by their numbers (priorities.py), line for line. nft
   releases differ on where a name is allowed (1.0.6 refuses `priority dstnat` on an output
   hook, which Docker 29 writes and newer nft accepts); the number is what the kernel gets anyway.
2. The text is loaded with `nft -f` in a throwaway netns and listed back with `nft -j` (scratch.py).
3. The JSON is parsed (jsonparse.py), then each rule is mapped back to its line: the k-th rule
   of chain C in the JSON is the k-th rule line inside C's block in the text (`nft list` prints
   one rule per line, in order). Chains whose line count disagrees keep the rendered rule text.
"""

from __future__ import annotations

import re
from dataclasses import replace

from nflens.dialects.nft.jsonparse import parse_json
from nflens.dialects.nft.priorities import priority_value
from nflens.dialects.nft.scratch import load_and_list
from nflens.errors import ParseError
from nflens.ir.rules import Ruleset, Source, Unsupported

_FAMILY = r"(?:(ip|ip6|inet|bridge|arp|netdev)\s+)?"
_NAME = r'("[^"]+"|[^\s{]+)'
_TABLE = re.compile(rf"^table\s+{_FAMILY}{_NAME}\s*\{{")
_CHAIN = re.compile(rf"^chain\s+{_NAME}\s*\{{")
_BLOCK = re.compile(r"^(set|map|flowtable|counter|quota|limit|secmark|synproxy|ct\s+\w+)\s+\S+.*\{")
_ADD_RULE = re.compile(rf"^(?:add\s+)?rule\s+{_FAMILY}{_NAME}\s+{_NAME}\s+(.*)$")
_ADD_CHAIN = re.compile(rf"^(?:add|create)\s+chain\s+{_FAMILY}")
_PRIORITY = re.compile(r"\bpriority\s+(raw|mangle|dstnat|filter|security|srcnat|out)\b"
                       r"(\s*[-+]\s*\d+)?")
_DEVICE = re.compile(r'\bdevice\s+("[^"]+"|[^\s;]+)')
_DEVICES = re.compile(r"\bdevices\s*=\s*\{([^}]*)\}")
_CHAIN_HEADER = ("type ", "policy ", "comment ", "devices ", "device ")

Key = tuple[str, str, str]


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _strip_comment(line: str) -> str:
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:i]
    return line


def numeric_priorities(text: str) -> str:
    """Replace `priority <name> [+-N]` on hook lines by the number, keeping every line in place."""
    family = "ip"
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        m = _TABLE.match(stripped) or _ADD_CHAIN.match(stripped)
        if m:
            family = m.group(1) or "ip"
        if "hook" in line and "priority" in line:
            def number(match: re.Match, fam=family) -> str:
                spec = match.group(1) + (match.group(2) or "")
                try:
                    return f"priority {priority_value(spec, fam)}"
                except ValueError:
                    return match.group(0)
            line = _PRIORITY.sub(number, line)
        out.append(line)
    return "\n".join(out)


def rule_lines(text: str) -> tuple[dict[tuple[str, ...], list[tuple[int, str]]], set[Key]]:
    """(family, table, chain) -> [(line, text)] of its rules in order (and ("device", family,
    table, chain) -> [(line, devices)] of a base chain's devices); plus chains whose order
    cannot be known from the text (rules inserted rather than added)."""
    found: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    unknowable: set[Key] = set()
    stack: list[tuple] = []
    pending: tuple[Key, int, list[str], int] | None = None
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = _strip_comment(raw).strip()
        if pending is not None:
            key, start, parts, depth = pending
            parts.append(line)
            depth += line.count("{") - line.count("}")
            pending = (key, start, parts, depth)
            if depth <= 0:
                found.setdefault(key, []).append((start, " ".join(parts)))
                pending = None
            continue
        if not line:
            continue
        pending = _line(line, raw, lineno, stack, found, unknowable)
    return found, unknowable


def _line(line, raw, lineno, stack, found, unknowable):
    """Classify one line; returns a pending multi-line rule or None."""
    top = stack[-1] if stack else None
    if line.startswith("}"):
        if stack:
            stack.pop()
        return None
    m = _TABLE.match(line)
    if m and top is None:
        stack.append(("table", m.group(1) or "ip", _unquote(m.group(2))))
        return None
    m = _CHAIN.match(line)
    if m and top and top[0] == "table":
        stack.append(("chain", top[1], top[2], _unquote(m.group(1))))
        return None
    if _BLOCK.match(line) and top and top[0] == "table":
        if line.count("{") > line.count("}"):
            stack.append(("other",))
        return None
    if top and top[0] == "chain":
        if line.startswith(_CHAIN_HEADER):
            devices = _devices(line)
            if devices:  # nft 1.0.6's JSON omits a chain's device: keep the text's
                found.setdefault(("device",) + tuple(top[1:]), []).append(
                    (lineno, ",".join(d.strip('"') for d in devices)))
            return None
        key = (top[1], top[2], top[3])
        depth = line.count("{") - line.count("}")
        if depth > 0:
            return (key, lineno, [line], depth)
        found.setdefault(key, []).append((lineno, raw.strip()))
        return None
    if top is None:
        _command(line, raw, lineno, found, unknowable)
    return None


def _devices(line: str) -> list[str]:
    many = _DEVICES.search(line)
    if many:
        return [d.strip() for d in many.group(1).split(",") if d.strip()]
    return _DEVICE.findall(line)


def _command(line, raw, lineno, found, unknowable) -> None:
    if line.startswith(("insert rule", "replace rule")):
        m = _ADD_RULE.match(line.split(None, 1)[1])
        if m:
            unknowable.add((m.group(1) or "ip", _unquote(m.group(2)), _unquote(m.group(3))))
        return
    m = _ADD_RULE.match(line)
    if m:
        key = (m.group(1) or "ip", _unquote(m.group(2)), _unquote(m.group(3)))
        found.setdefault(key, []).append((lineno, raw.strip()))


def parse_text(text: str, file: str = "<input>") -> Ruleset:
    """Parse `nft list ruleset` output (or any nft script) with the real nft; see module doc."""
    if text.lstrip().startswith(("{", "[")):
        raise ParseError("this is JSON: use the nft-json dialect (parse_json)", file, 1)
    listed = load_and_list(numeric_priorities(text), file)
    ruleset = parse_json(listed, file)
    return _map_lines(ruleset, text, file)


def _map_lines(ruleset: Ruleset, text: str, file: str) -> Ruleset:
    found, unknowable = rule_lines(text)
    moved: dict[int, Source] = {}
    tables = []
    for table in ruleset.tables:
        chains = []
        for chain in table.chains:
            key = (table.family, table.name, chain.name)
            lines = found.get(key, [])
            exact = key not in unknowable and len(lines) == len(chain.rules)
            rules = []
            for k, rule in enumerate(chain.rules):
                old = rule.source
                src = Source(file, lines[k][0], lines[k][1]) if exact else \
                    Source(file, 0, old.text if old else "")
                if old:
                    moved[old.line] = src
                rules.append(replace(rule, source=src))
            device = chain.device
            if chain.is_base and device is None and found.get(("device",) + key):
                device = found[("device",) + key][0][1]
            chains.append(replace(chain, rules=tuple(rules), source=None, device=device))
        tables.append(replace(table, chains=tuple(chains), source=None))
    unsupported = tuple(Unsupported(file, moved[u.line].line, moved[u.line].text, u.what)
                        if u.line in moved else u for u in ruleset.unsupported)
    return Ruleset(tuple(tables), "nft-text", None, unsupported, ())
