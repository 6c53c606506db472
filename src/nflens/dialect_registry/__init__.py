"""Every rule language nflens knows, one `Dialect` each, in one registry (issue 28).

A dialect is one module here declaring `DIALECT = Dialect(...)` (base.py says what each part
means) and one line in MODULES; its parser and generator live in its package under
nflens/dialects/. Snapshot reading and collecting, `policy plan/apply/rollback`, the fixes'
commands, `nflens rules` and the lab loop over this registry instead of keeping lists of their
own, so a new dialect is picked up everywhere at once.

This package is apart from nflens/dialects because `nflens --help` shows the reader names and
must import no parser (tests/cli/test_help_is_light.py): these modules import only the
standard library, and a dialect's `parse`/`generate` import its parser on the first call.

MODULES is ordered, and the order is kept everywhere a list was before: the save dumps of a
snapshot are read, backed up and collected in it (iptables, ip6tables, nft, ebtables), and the
reader names are listed in it. A name (of a dialect or of a reader) registered twice is an
error at import, never a silent override (the match registry's rule, kernel/matches).
"""

from __future__ import annotations

import difflib
import importlib

from nflens.dialect_registry.base import Dialect, Reader, Sniff
from nflens.errors import DialectError, ParseError

MODULES = ("iptables", "ip6tables", "nft", "ebtables", "arptables")
REGISTRY: dict[str, Dialect] = {}
_READERS: dict[str, tuple[Reader, Dialect]] = {}


class RegistryError(RuntimeError):
    """Two dialects claim one name: a programming error, raised at import."""


def register(dialect: Dialect) -> Dialect:
    """Add `dialect` after the ones registered before it."""
    for name in (dialect.name, *(r.name for r in dialect.readers)):
        if name in REGISTRY or name in _READERS:
            raise RegistryError(f"dialect name {name!r} is registered twice (by {dialect.name})")
    REGISTRY[dialect.name] = dialect
    for r in dialect.readers:
        _READERS[r.name] = (r, dialect)
    return dialect


def unregister(name: str) -> None:
    """Remove a dialect (a test's fake one) and its readers."""
    dialect = REGISTRY.pop(name)
    for r in dialect.readers:
        del _READERS[r.name]


def dialects() -> tuple[Dialect, ...]:
    return tuple(REGISTRY.values())


def get(name: str) -> Dialect:
    """The dialect called `name` ("iptables", "nft", ...): a programming error if unknown."""
    return REGISTRY[name]


def reader_names() -> tuple[str, ...]:
    """What `nflens rules --dialect` takes: "iptables", "ip6tables", "nft-json", ..."""
    return tuple(_READERS)


def reader(name: str) -> tuple[Reader, Dialect]:
    """The reader called `name` and its dialect; an unknown name fails helpfully."""
    if name in _READERS:
        return _READERS[name]
    known = reader_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(known)}."
    raise DialectError(f"Unknown dialect {name!r}.{hint}")


def detect(text: str, file: str = "<input>") -> str:
    """The reader whose evidence in `text` ranks first (base.py's ranks); ParseError if none."""
    sniff = Sniff.of(text, file)
    ranked = [(rank, i, r.name) for i, r in enumerate(_READERS[n][0] for n in _READERS)
              if (rank := r.detect(sniff)) is not None]
    if ranked:
        return min(ranked)[2]
    labels = [r.label for r, _d in _READERS.values()]
    raise ParseError(f"cannot tell the dialect: not {', '.join(labels[:-1])} or {labels[-1]}",
                     file, 1)


def of_family(family: str) -> Dialect:
    """The dialect whose own tables hold `family` ("ip" -> iptables, "bridge" -> ebtables):
    the first of that family that is not the all-listing nft."""
    return next(d for d in REGISTRY.values() if family in d.families and not d.lists_all)


def tool_for(family: str) -> str:
    """The binary that writes `family`'s rules: "iptables", "ip6tables", "ebtables"."""
    return of_family(family).tool


def collected(families: tuple[str, ...] | None = None) -> tuple[tuple[str, list[str]], ...]:
    """(file, argv) of every ruleset `snapshot collect` writes (CONTRACT §2), in the registry's
    order; `families`: only the dialects that hold one of them."""
    return tuple((d.collect[0], list(d.collect[1])) for d in REGISTRY.values()
                 if d.collect and (families is None or set(families) & set(d.families)))


def snapshot_files() -> tuple[str, ...]:
    """Every snapshot file a dialect is read from (nft.txt too, which is not collected)."""
    return tuple(f for d in REGISTRY.values() for f, _r in d.snapshot)


def match_keys() -> tuple[str, ...]:
    """The dialects of the kernel match registry ("xt", "nft", "eb"), as the dialects say."""
    return tuple(dict.fromkeys(d.match_key for d in REGISTRY.values() if d.match_key))


def policy_dialects() -> tuple[str, ...]:
    """What `nflens policy plan --dialect` compiles to."""
    return tuple(d.name for d in REGISTRY.values() if d.policy)


def _load() -> None:
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        register(module.DIALECT)


_load()  # at import: a name claimed twice stops the program before anything is read

__all__ = ["Dialect", "Reader", "RegistryError", "Sniff", "collected", "detect", "dialects", "get",
           "match_keys", "of_family", "policy_dialects", "reader", "reader_names", "register",
           "snapshot_files", "tool_for", "unregister"]
