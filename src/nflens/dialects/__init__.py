"""Dialects parse into the IR and generate from it; this module finds one by name or content.

| name        | parse                                  | generate                        |
|-------------|----------------------------------------|---------------------------------|
| iptables    | iptables-save                          | iptables-restore input          |
| ip6tables   | ip6tables-save                         | ip6tables-restore input         |
| nft-json    | `nft -j list ruleset`                  | nft JSON                        |
| nft-text    | `nft list ruleset` (via a scratch netns)| nft script                      |
| ebtables    | ebtables-save                          | ebtables-restore input          |
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

from nflens.dialect_names import DIALECTS  # noqa: E402 (light: the CLI's help needs it)
from nflens.errors import DialectError, ParseError
from nflens.ir.rules import Ruleset

_EB_HINTS = re.compile(r"(--arp-|-p ARP|-p IPv4|-p IPv6|--logical-(in|out)|-j CONTINUE|"
                       r"^:BROUTING|ebtables)", re.M)


def detect(text: str, file: str = "<input>") -> str:
    """Guess the dialect of a dump from its content."""
    head = text.lstrip()
    if head.startswith(("{", "[")):
        return "nft-json"
    first = head.splitlines()[0] if head else ""
    if "ebtables" in first:
        return "ebtables"
    if "ip6tables" in first:
        return "ip6tables"
    if "iptables" in first:
        return "iptables"
    if re.search(r"^\s*(table|flush ruleset|add table|define|include)\b", text, re.M):
        return "nft-text"
    if re.search(r"^\*\w+", text, re.M):
        if _EB_HINTS.search(text):
            return "ebtables"
        if re.search(r"^-A .*(-[sd] |--to-destination |--to-source )"
                     r"\[?[0-9a-fA-F]*:[0-9a-fA-F:]*[:/]",
                     text, re.M) or "icmp6" in text or "ipv6-icmp" in text:
            return "ip6tables"
        return "iptables"
    name = Path(file).name.lower()
    for hint, dialect in (("ebtables", "ebtables"), ("ip6tables", "ip6tables"),
                          ("iptables", "iptables"), (".json", "nft-json"), ("nft", "nft-text")):
        if hint in name and not head:
            return dialect  # an empty dump (no rules at all) of the kind its name says
    raise ParseError("cannot tell the dialect: not iptables-save, ip6tables-save, nft JSON, "
                     "nft text or ebtables-save", file, 1)


def parser_for(name: str) -> Callable[[str, str], Ruleset]:
    if name in ("iptables", "ip6tables"):
        from nflens.dialects import iptables

        family = "ip" if name == "iptables" else "ip6"
        return lambda text, file: iptables.parse(text, file, family=family)
    if name == "nft-json":
        from nflens.dialects import nft

        return nft.parse_json
    if name == "nft-text":
        from nflens.dialects import nft

        return nft.parse_text
    if name == "ebtables":
        from nflens.dialects import ebtables

        return ebtables.parse
    close = difflib.get_close_matches(name, DIALECTS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(DIALECTS)}."
    raise DialectError(f"Unknown dialect {name!r}.{hint}")


def parse_text(text: str, file: str = "<input>", dialect: str | None = None) -> Ruleset:
    name = dialect or detect(text, file)
    return parser_for(name)(text, file)


def parse_file(path: str | Path, dialect: str | None = None) -> Ruleset:
    from nflens.textfile import read_text

    return parse_text(read_text(path), str(path), dialect)
