"""Read a policy file into plain data and remember the line of every value.

pydantic reports a validation error as a path (`("inbound", "ports", 2, "port")`), the user
needs `policy.yaml:14: ...`. PyYAML's composer keeps a mark (line, column) on every node, so the
file is composed (not just loaded) and walked once, recording `path -> line`. TOML (tomllib)
keeps no positions; there the line of a path is found by searching the text for its last key,
which is exact for the flat tables policies use and otherwise points near the right place.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from nflens import safeyaml, textfile
from nflens.errors import ParseError

Path_ = safeyaml.Path_


class Located:
    """Plain data (dicts, lists, scalars) plus the 1-based line of every path into it."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str):
        self.data = data
        self.lines = lines
        self.file = file

    def line(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load_yaml(text: str, file: str) -> Located:
    """Plain YAML only, bounded (nflens.safeyaml: no tags, scalar keys, no alias bomb)."""
    root = safeyaml.compose(text, file)
    if root is None:
        raise ParseError("empty policy file", file, 1)
    lines: dict[Path_, int] = {}
    return Located(safeyaml.to_data(root, file, lines), lines, file)


def load_toml(text: str, file: str) -> Located:
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ParseError("not valid TOML: nested too deeply", file, 1) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ParseError(f"not valid TOML: {exc}", file,
                         int(match.group(1)) if match else None) from None
    lines: dict[Path_, int] = {(): 1}
    text_lines = text.splitlines()
    _toml_lines(data, (), text_lines, lines)
    return Located(data, lines, file)


def _toml_lines(value: Any, path: Path_, text: list[str], lines: dict[Path_, int]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            pattern = re.compile(rf"^\s*(\[+\s*)?([\w.\"-]*\.)?\"?{re.escape(str(key))}\"?\s*[=\]]")
            start = lines.get(path, 1) - 1
            for i in range(start, len(text)):
                if pattern.search(text[i]):
                    lines[path + (key,)] = i + 1
                    break
            _toml_lines(sub, path + (key,), text, lines)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            lines.setdefault(path + (i,), lines.get(path, 1))
            _toml_lines(sub, path + (i,), text, lines)


def load_file(path: str | Path) -> Located:
    p = Path(path)
    text = textfile.read_text(p, "cannot read policy")
    if p.suffix.lower() == ".toml":
        return load_toml(text, str(p))
    return load_yaml(text, str(p))
