"""Deterministic mutations of real inputs, for the hostile-input fuzz (issue 16 "Must show").

Each case is a function of (seed, index) alone, so a failure is reproduced by its index. A case
mutates one file — a CONTRACT §2 snapshot file of a real lab snapshot, a flows file or a policy
— either structurally (a JSON/YAML value replaced by one of the wrong type, range or shape, a key
dropped or added) or as text (lines dropped, duplicated, cut; hostile tokens, bytes, control
characters, markup, Infinity, deep nesting inserted).
"""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

DEEP = 300

HOSTILE_VALUES: list[Any] = [
    5, -1, 0, 2**64, 1.5, True, False, None, "", "x", "abc", [], {}, ["x"], {"x": 1}, [1],
    "[/]shop", "[bold]x[/bold]", "\x1b[31mred", 'a"b', "10.0.0.1", "::1", "999.1.1.1",
    "10.0.0.0/33", "default", "rtl\u202eeg", "\u0668\u0660", "x" * 3000, 65536, 99999,
    "0x10", "tcp", "eth0", "[]", {"": None}, [[]], "\u00e9\u00e9",
]
TEXT_TOKENS = [
    "-m", "-j", "!", "--dport", "-p", "tcp", '"', "'", "[/]", "[bold]", "\x1b[2J", "99999",
    "-1", "0x", "/", ":", "*", "COMMIT", "*filter", ":X - [0:0]", "-A", "-N", "--comment",
    "-i", "eth0+", "65536", "1.2.3.4/99", "%", 'users:(("', ",pid=", "=", "-j DROP", "-g",
    "--to-destination", "1.2.3.4:99999", "-s", "::/129", "\t", "\u202e", "Infinity", "-P",
    "--ctstate", "NEW,BOGUS", "-m multiport --dports 1:2:3", "\\", "#", "{", "}",
]
RAW_BYTES = [b"\xff", b"\xfe\xfe", b"\x00", b"\x1b]0;t\x07", b"\xc3", b"\r", b"\x85"]


def _paths(data: Any, limit: int = 4000) -> list[tuple]:
    """Paths of nodes in `data` (breadth first, at most `limit`)."""
    out: list[tuple] = [()]
    queue = [((), data)]
    while queue and len(out) < limit:
        path, node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else \
            enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append(path + (key,))
            queue.append((path + (key,), child))
    return out


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _deep(rng: random.Random) -> Any:
    node: Any = rng.choice([[], {}, "x", 1])
    for _ in range(DEEP):
        node = [node] if rng.random() < 0.5 else {"a": node}
    return node


def mutate_data(data: Any, rng: random.Random) -> Any:
    """One structural change to parsed JSON/YAML data (in place where possible)."""
    paths = _paths(data)
    path = rng.choice(paths)
    op = rng.randrange(6)
    value = _deep(rng) if rng.random() < 0.03 else rng.choice(HOSTILE_VALUES)
    if not path:
        return value if op == 0 else [data] if op == 1 else data
    parent, key = _get(data, path[:-1]), path[-1]
    if op == 0 or op == 5:  # replace
        parent[key] = value
    elif op == 1:  # delete
        del parent[key]
    elif op == 2:  # add a sibling
        if isinstance(parent, dict):
            parent[rng.choice(["x", "ifname", "dst", "Name", "port", "from", "table"])] = value
        else:
            parent.insert(rng.randrange(len(parent) + 1), value)
    elif op == 3:  # wrap
        parent[key] = [parent[key]] if rng.random() < 0.5 else {"v": parent[key]}
    elif op == 4:  # its text
        parent[key] = json.dumps(parent[key])[:200]
    return data


def mutate_text(text: str, rng: random.Random) -> bytes:
    """One to three line- or byte-level changes."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        op = rng.randrange(9)
        words = lines[i].split(" ")
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            words[rng.randrange(len(words))] = rng.choice(TEXT_TOKENS)
            lines[i] = " ".join(words)
        elif op == 4:
            words.insert(rng.randrange(len(words) + 1), rng.choice(TEXT_TOKENS))
            lines[i] = " ".join(words)
        elif op == 5:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 6:
            lines.insert(i, rng.choice(TEXT_TOKENS) * rng.choice([1, 50, 2000]))
        elif op == 7:
            digits = [k for k, c in enumerate(lines[i]) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                lines[i] = lines[i][:k] + rng.choice(["99999999999", "-", "0", "4294967296",
                                                      "1e999"]) + lines[i][k + 1:]
        else:
            return _with_bytes("\n".join(lines), rng)
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")


def _with_bytes(text: str, rng: random.Random) -> bytes:
    raw = text.encode()
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + rng.choice(RAW_BYTES) + raw[at:]


def mutate_json_file(text: str, rng: random.Random) -> bytes:
    """Mostly structural; sometimes text-level (Infinity, cuts, deep nesting, bad bytes)."""
    roll = rng.random()
    if roll < 0.7:
        data = mutate_data(json.loads(text), rng)
        return json.dumps(data).encode()
    if roll < 0.8:
        digits = [k for k, c in enumerate(text) if c.isdigit()]
        if digits:
            k = rng.choice(digits)
            return (text[:k] + rng.choice(["Infinity", "-Infinity", "NaN", "1e999"]) +
                    text[k + 1:]).encode()
    if roll < 0.85:
        return ("[" * 50000 + "]" * 50000).encode() if rng.random() < 0.5 else \
            text[: rng.randrange(len(text) + 1)].encode()
    return mutate_text(text, rng)


def mutate_yaml_file(text: str, rng: random.Random) -> bytes:
    if rng.random() < 0.6:
        data = mutate_data(yaml.safe_load(text), rng)
        try:
            return yaml.safe_dump(data, allow_unicode=True).encode()
        except yaml.YAMLError:
            return json.dumps(data).encode()
    return mutate_text(text, rng)
