"""iptables (IPv4): `iptables-save` in, iptables-restore input out (nflens.dialects.iptables).
`xtables` builds the dialect of either family, so ip6tables.py differs only where it must."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nflens.dialect_registry.base import FILE_NAME, FIRST_LINE, SAVE_FORMAT, Dialect, Reader, Sniff

if TYPE_CHECKING:
    from nflens.ir.rules import Ruleset


def detect(s: Sniff) -> int | None:
    if "iptables" in s.first:
        return FIRST_LINE + 2  # after ebtables and ip6tables, whose headers say so
    if s.save_format():
        return SAVE_FORMAT + 2  # a save dump neither ebtables' nor ip6tables' hints claim
    return FILE_NAME + 2 if s.empty_named("iptables") else None


def xtables(tool: str, family: str, detect: Callable[[Sniff], int | None],
            policy: bool) -> Dialect:
    """iptables or ip6tables: the same parser and generator, for one family each."""

    def parse(text: str, file: str) -> Ruleset:
        from nflens.dialects import iptables

        return iptables.parse(text, file, family=family)

    def generate(ruleset: Ruleset) -> str:
        from nflens.dialects import iptables

        return iptables.generate(ruleset, family)

    save, dump = (f"{tool}-save",), f"{tool}-save.txt"
    return Dialect(
        name=tool, families=(family,), tool=tool,
        readers=(Reader(tool, f"{tool}-save", detect, parse),), generate=generate,
        save=save, restore=(f"{tool}-restore", "--noflush"),
        apply=(f"{tool}-restore", "--noflush"),
        backup=(dump, save), backup_needs="*filter",  # the filter table DOCKER-USER is in
        snapshot=((dump, tool),), collect=(dump, save), match_key="xt", policy=policy,
    )


DIALECT = xtables("iptables", "ip", detect, policy=True)
