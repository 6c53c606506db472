"""Match extensions: one module each, registered by (dialect, name).

A match belongs to one dialect, and its name means something only there: iptables' `-m limit`
("xt", "limit") is not nft's `limit rate` ("nft", "limit"). The dialects:
- "xt": x_tables matches of iptables/ip6tables (`XtMatch`; "ip" is the built-in -s/-d/-i/-o/-p);
- "eb": ebtables (`XtMatch` named "eb" for the built-in part, "eb_ip", "eb_vlan", ...);
- "nft": nft expressions (`NftCmp` by the kind of its left side, a bare `NftExpr` by its kind).

Each module declares `DIALECT`, `NAMES` and `evaluate(match, ctx) -> bool | Unknown`; the x_tables
modules also `constrain(match, ctx) -> Region`, their symbolic side. An extension the grammars
know but the model cannot decide from a snapshot (a rate limit, a quota, string matching) is an
`Unmodelled` entry: it evaluates to an Unknown that names it, and its region is unknown. The
x_tables list of those is the iptables grammar's (`dialects/iptables/grammar.UNMODELLED`, which
the parser also reads to keep their options opaque), so there is one list, not two. A name
registered twice in one dialect is an error at import, never a silent override.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from nflens.dialect_registry import match_keys
from nflens.dialects.iptables import grammar as xt_grammar
from nflens.ir.rules import NftCmp, NftExpr, XtMatch
from nflens.kernel.context import PacketContext, Unknown
from nflens.kernel.region import Region
from nflens.kernel.region import unknown as unknown_region

DIALECTS = match_keys()  # "xt", "nft", "eb": the keys the dialects' registry gives its matches
# why an x_tables match cannot be decided from a snapshot (default: "not decidable from a snapshot")
_XT_WHY = {"limit": "a rate limit (token bucket state in the kernel)",
           "hashlimit": "a per-flow rate limit (state in the kernel)",
           "recent": "the recent list (state in the kernel)", "quota": "a byte quota",
           "connlimit": "a connection count", "connbytes": "connection byte counters",
           "statistic": "random or nth sampling", "time": "the time of day",
           "string": "payload string search", "u32": "raw payload bytes",
           "socket": "a socket lookup", "cgroup": "the socket's cgroup",
           "osf": "OS fingerprinting", "policy": "IPsec policy"}


@dataclass(frozen=True)
class Unmodelled:
    """A registry entry for an extension known to a grammar but not decided by the model."""

    dialect: str
    name: str
    what: str

    @property
    def reason(self) -> str:
        prefix = f"-m {self.name}" if self.dialect == "xt" else f"{self.dialect} {self.name}"
        return f"{prefix}: {self.what} is not modelled"

    def evaluate(self, match: Any, ctx: PacketContext) -> Unknown:
        return Unknown(self.reason)

    def constrain(self, match: Any, ctx: PacketContext) -> Region:
        return unknown_region(self.reason)


Entry = ModuleType | Unmodelled
REGISTRY: dict[tuple[str, str], Entry] = {}


class RegistryError(RuntimeError):
    """Two entries claim one (dialect, name): a programming error, raised at import."""


def _add(key: tuple[str, str], entry: Entry) -> None:
    if key in REGISTRY:
        raise RegistryError(f"match {key[0]}:{key[1]} is registered twice: by "
                            f"{_label(REGISTRY[key])} and by {_label(entry)}")
    REGISTRY[key] = entry


def _label(entry: Entry) -> str:
    return entry.__name__ if isinstance(entry, ModuleType) else "the unmodelled list"


def _load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        names = getattr(module, "NAMES", ())
        if not names:
            continue
        dialect = getattr(module, "DIALECT", None)
        if dialect not in DIALECTS:
            raise RegistryError(f"{module.__name__}: DIALECT must be one of {DIALECTS}")
        for name in names:
            _add((dialect, name), module)
    for name in sorted(xt_grammar.UNMODELLED):
        _add(("xt", name), Unmodelled("xt", name, _XT_WHY.get(name, "not decidable from a "
                                                                    "snapshot")))


def dialect_of(expr: Any) -> str:
    if isinstance(expr, XtMatch):
        return "eb" if expr.name == "eb" or expr.name.startswith("eb_") else "xt"
    return "nft"


def key_of(expr: Any) -> tuple[str, str]:
    """The registry key of a match expression as the IR holds it."""
    if isinstance(expr, XtMatch):
        return dialect_of(expr), expr.name
    if isinstance(expr, (NftCmp, NftExpr)):
        return "nft", expr.kind
    raise TypeError(f"not a match expression: {type(expr).__name__}")


def lookup(dialect: str, name: str) -> Entry | None:
    return REGISTRY.get((dialect, name))


def entry_for(expr: Any) -> Entry | None:
    """The module (or Unmodelled entry) that evaluates `expr`; None: no grammar knows it.
    An x_tables match's entry depends on its name only and the registry is complete at
    import, so it is remembered by name (asked for every match of every rule walked)."""
    if type(expr) is XtMatch:
        name = expr.name
        if name in _XT_ENTRIES:
            return _XT_ENTRIES[name]
        found = _XT_ENTRIES[name] = lookup(*key_of(expr))
        return found
    return lookup(*key_of(expr))


_XT_ENTRIES: dict[str, Entry | None] = {}


def unmodelled_names(dialect: str) -> frozenset[str]:
    return frozenset(n for (d, n), e in REGISTRY.items() if d == dialect and
                     isinstance(e, Unmodelled))


_load()  # at import: a duplicate stops the program before any verdict is given
