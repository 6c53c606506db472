"""ebtables (bridge family): `ebtables-save` in, ebtables-restore input out
(nflens.dialects.ebtables)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nflens.dialect_registry.base import FILE_NAME, FIRST_LINE, SAVE_FORMAT, Dialect, Reader, Sniff

if TYPE_CHECKING:
    from nflens.ir.rules import Ruleset

# what only ebtables-save prints in a `*table` dump
_HINTS = re.compile(r"(--arp-|-p ARP|-p IPv4|-p IPv6|--logical-(in|out)|-j CONTINUE|"
                    r"^:BROUTING|ebtables)", re.M)


def detect(s: Sniff) -> int | None:
    if "ebtables" in s.first:
        return FIRST_LINE
    if s.save_format() and _HINTS.search(s.text):
        return SAVE_FORMAT
    return FILE_NAME if s.empty_named("ebtables") else None


def parse(text: str, file: str) -> Ruleset:
    from nflens.dialects import ebtables

    return ebtables.parse(text, file)


def generate(ruleset: Ruleset) -> str:
    from nflens.dialects import ebtables

    return ebtables.generate(ruleset)


DIALECT = Dialect(
    name="ebtables", families=("bridge",), tool="ebtables",
    readers=(Reader("ebtables", "ebtables-save", detect, parse),),
    generate=generate,
    save=("ebtables-save",), restore=("ebtables-restore",), apply=("ebtables-restore",),
    backup=("ebtables-save.txt", ("ebtables-save",)),
    snapshot=(("ebtables-save.txt", "ebtables"),),
    collect=("ebtables-save.txt", ("ebtables-save",)),
    match_key="eb",
)
