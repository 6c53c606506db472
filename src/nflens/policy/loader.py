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

import yaml

from nflens import textfile
from nflens.errors import ParseError

Path_ = tuple[Any, ...]


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


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                raise ParseError(f"duplicate key {key!r}", file, key_node.start_mark.line + 1)
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, path + (key,), lines, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, path + (i,), lines, file) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)  # composed YAML: mappings, sequences, scalars
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    """The scalar's value as safe_load would give it (ints, bools, null, strings)."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def load_yaml(text: str, file: str) -> Located:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ParseError(f"not valid YAML: {exc.problem or exc}", file, line) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"not valid YAML: {exc}", file, None) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ParseError("not valid YAML: nested too deeply", file, 1) from None
    if root is None:
        raise ParseError("empty policy file", file, 1)
    lines: dict[Path_, int] = {}
    try:
        return Located(_walk(root, (), lines, file), lines, file)
    except RecursionError:
        raise ParseError("nested too deeply", file, 1) from None


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
