"""JSON from other people's files, decoded so that every problem is a ParseError with a line.

Python's `json` accepts what no tool of ours writes and what our code cannot carry (issue 16):
`Infinity`/`NaN`/`1e999` (`int(float("inf"))` raised OverflowError in the route and nft counter
readers); a document nested 50,000 deep raises RecursionError from the decoder; one nested just
under the interpreter's limit decodes, then breaks the first recursive walk over it (repr,
json.dumps, a validator). Here: non-finite numbers are refused, and so is nesting deeper than
MAX_DEPTH — `ip -j`, `docker inspect` and `nft -j` output is a dozen levels deep.
"""

from __future__ import annotations

import json
from typing import Any

from nflens.errors import ParseError

MAX_DEPTH = 200


class _Constant(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Constant(name)


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _Constant(text)
    return value


def _line_of(text: str, needle: str) -> int:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def depth_exceeds(data: Any, limit: int = MAX_DEPTH) -> bool:
    """True when lists/dicts in `data` nest deeper than `limit` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return False


def loads(text: str, file: str, what: str = "invalid JSON") -> Any:
    """`json.loads(text)`, or ParseError(file, line): bad syntax, NaN/Infinity, too deep."""
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what}: {exc.msg} (column {exc.colno})", file, exc.lineno) from None
    except _Constant as exc:
        raise ParseError(f"{what}: {exc.args[0]} is not a JSON number", file,
                         _line_of(text, exc.args[0])) from None
    except RecursionError:
        raise ParseError(f"{what}: nested too deeply (more than {MAX_DEPTH} levels)", file,
                         1) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ParseError(f"{what}: {exc}", file, 1) from None
    if depth_exceeds(data):
        raise ParseError(f"{what}: nested too deeply (more than {MAX_DEPTH} levels)", file, 1)
    return data


def element_line(text: str, index: int) -> int | None:
    """The 1-based line where element `index` of the top-level JSON array in `text` starts
    (for an error about that element), or None when `text` is not such an array."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        return None
    pos += 1
    try:
        for _ in range(index):
            pos = _skip(text, pos)
            _, pos = decoder.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos += 1
        pos = _skip(text, pos)
    except (ValueError, RecursionError):
        return None
    return text.count("\n", 0, pos) + 1


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
