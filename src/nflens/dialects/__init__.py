"""Dialects parse into the IR and generate from it; this module finds one by name or content.

| name        | parse                                  | generate                        |
|-------------|----------------------------------------|---------------------------------|
| iptables    | iptables-save                          | iptables-restore input          |
| ip6tables   | ip6tables-save                         | ip6tables-restore input         |
| nft-json    | `nft -j list ruleset`                  | nft JSON                        |
| nft-text    | `nft list ruleset` (via a scratch netns)| nft script                      |
| ebtables    | ebtables-save                          | ebtables-restore input          |

The names, how each is detected and which parser reads it are the dialect registry's
(nflens.dialect_registry, one module per dialect); this module only looks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nflens import dialect_registry
from nflens.ir.rules import Ruleset


def detect(text: str, file: str = "<input>") -> str:
    """Guess the dialect of a dump from its content (the registry's detectors)."""
    return dialect_registry.detect(text, file)


def parser_for(name: str) -> Callable[[str, str], Ruleset]:
    """The parser of the reader `name`; an unknown name fails with a did-you-mean."""
    return dialect_registry.reader(name)[0].parse


def parse_text(text: str, file: str = "<input>", dialect: str | None = None) -> Ruleset:
    name = dialect or detect(text, file)
    return parser_for(name)(text, file)


def parse_file(path: str | Path, dialect: str | None = None) -> Ruleset:
    from nflens.textfile import read_text

    return parse_text(read_text(path), str(path), dialect)
