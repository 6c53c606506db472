"""YAML from other people's files, read as plain data and nothing else (issue 29.13).

Policy and flows files are YAML a user may have been sent. `yaml.safe_load` builds no Python
objects, but three things still got through:

- a tag (`version: !custom 1`) was a ConstructorError traceback, and a tag on a mapping
  (`!custom {a: 1}`) was silently ignored: here every node must carry the tag plain YAML
  resolves it to (str, int, float, bool, null, timestamp, map, seq); any other tag is
  `FILE:LINE: tag ... is not allowed`;
- a mapping with a collection as key (`{? [1]: x}`) was a TypeError (a list is unhashable):
  here a key must be a scalar;
- an alias bomb ("billion laughs": 20 nested levels of 10 aliases each, a few hundred bytes)
  expanded to 10^20 nodes, past 2.4 GB and 60 s. Composing is linear in the text (an alias
  is one more reference to the anchor's node); only expanding it into data multiplies. So the
  walk that turns nodes into data counts every node it produces, aliases expanded, and stops
  at MAX_NODES (a policy or flows file of a large host has a few thousand); an alias that
  refers to its own anchor (`&a [*a]`) is refused as a cycle.

`load()` returns the data; `to_data(..., lines)` also records the 1-based line of every path,
which the policy loader turns into `policy.yaml:14: ...`.
"""

from __future__ import annotations

from typing import Any

import yaml

from nflens.errors import ParseError
from nflens.literal import excerpt

MAX_NODES = 200_000
_CORE = "tag:yaml.org,2002:"
SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
Path_ = tuple[Any, ...]


def compose(text: str, file: str) -> yaml.Node | None:
    """The document's node graph (None for an empty document), or ParseError FILE:LINE."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ParseError(f"not valid YAML: {exc.problem or exc}", file,
                         mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"not valid YAML: {exc}", file, None) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ParseError("not valid YAML: nested too deeply", file, 1) from None


def load(text: str, file: str) -> Any:
    """The plain data of a YAML document (None when empty); ParseError for anything else."""
    root = compose(text, file)
    return None if root is None else to_data(root, file)


def to_data(root: yaml.Node, file: str, lines: dict[Path_, int] | None = None) -> Any:
    """Nodes -> dicts, lists and scalars, bounded (see the module docstring); `lines`, when
    given, gets path -> line of every value and key."""
    walk = _Walk(file, {} if lines is None else lines)
    try:
        return walk.node(root, ())
    except RecursionError:
        raise ParseError("nested too deeply", file, 1) from None
    finally:
        walk.loader.dispose()


class _Walk:
    """One conversion: its node budget, the nodes being expanded (for cycles), the lines."""

    def __init__(self, file: str, lines: dict[Path_, int]):
        self.file, self.lines, self.left = file, lines, MAX_NODES
        self.open: set[int] = set()
        self.loader = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str) -> ParseError:
        return ParseError(message, self.file, node.start_mark.line + 1)

    def node(self, node: yaml.Node, path: Path_) -> Any:
        self.left -= 1
        if self.left < 0:
            raise self.fail(node, f"more than {MAX_NODES} values once aliases are expanded "
                            "(an alias bomb?): not read")
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.open:
            raise self.fail(node, "an alias refers to its own anchor (a cycle): not read")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            self.check_tag(node, _CORE + "seq")
            return [self.node(item, path + (i,)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self.check_tag(node, _CORE + "map")
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "a key must be a string or a number, not a "
                                + ("list" if isinstance(key_node, yaml.SequenceNode)
                                   else "mapping"))
            if key_node.tag == _CORE + "merge":
                raise self.fail(key_node, "merge keys (`<<`) are not supported: write the "
                                "keys out")
            key = self.scalar(key_node)
            if key in out:
                raise self.fail(key_node, f"duplicate key {excerpt(key)}")
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = self.node(value_node, path + (key,))
            self.lines[path + (key,)] = key_node.start_mark.line + 1
        return out

    def check_tag(self, node: yaml.Node, plain: str) -> None:
        if node.tag != plain:
            raise self.fail(node, f"tag {excerpt(node.tag)} is not allowed (plain YAML only: "
                            "mappings, lists, strings, numbers, booleans, null)")

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """The scalar's value as safe_load would give it (ints, bools, null, strings)."""
        if node.tag not in SCALAR_TAGS:
            self.check_tag(node, _CORE + "str")
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            raise self.fail(node, f"{excerpt(node.value)} is not a valid "
                            f"{node.tag.removeprefix(_CORE)}: {exc}") from None
