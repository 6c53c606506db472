"""Helpers shared by the x_tables match modules: per-option negation and interface names."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, Unknown


def iface_match(pattern: str, name: str | None) -> bool:
    """`eth+` matches every name starting with eth (xt's ifname_compare with a trailing +)."""
    if name is None:
        return False
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def in_range(value: int | None, rng: tuple[int, int]) -> bool:
    return value is not None and rng[0] <= value <= rng[1]


def all_opts(match: XtMatch, test) -> MatchResult:
    """AND over a match's options, each with its own `!`; Unknown if any is undecidable."""
    unknown = None
    for opt in match.opts:
        r = test(opt)
        if isinstance(r, Unknown):
            unknown = unknown or r
            continue
        if bool(r) == opt.negated:
            return False
    return unknown if unknown is not None else True


def unknown(match: XtMatch, why: str) -> Unknown:
    return Unknown(f"-m {match.name}: {why}")


__all__ = ["iface_match", "in_range", "all_opts", "unknown", "Opt"]
