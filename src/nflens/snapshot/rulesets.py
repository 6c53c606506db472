"""Load every ruleset dump of a snapshot and merge them so that no rule is counted twice.

With the nf_tables backend, iptables-nft / ip6tables-nft / ebtables-nft keep their tables inside
nf_tables, so `nft -j list ruleset` lists them again (their matches as opaque `xt`
expressions). CONTRACT §2: the `*-save.txt` dumps are the source of truth for those tables and
nft.json for every other table. So a (family, table) pair found in a save dump whose backend is
nf_tables — or unknown, when nft.json has the same table — is dropped from the nft dump.
A legacy dump's tables live in x_tables, apart from nf_tables: both are kept.

A table that also holds native nft base chains (the `table ip nat` / `table ip filter` of an
/etc/nftables.conf) is printed by iptables-nft-save only as a stub after "# Table `nat' contains
incompatible base-chains": invented ACCEPT built-in chains, the native base chains left out. Such
a table is taken from nft.json (its real chains, hooks, priorities and policies); a rule there
that nft can only show as an opaque `xt` expression takes the save dump's spelling of it, which
lists the same chain's rules in the same order (lab: tests/lab/test_lab_netfilter_decisions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from nflens import dialect_registry
from nflens.dialect_registry import Dialect
from nflens.errors import ParseError
from nflens.ir.rules import Chain, NftExpr, Ruleset, Table


def save_dumps() -> list[Dialect]:
    """The dialects read from a save dump of their own (iptables, ip6tables, ebtables: the
    registry's order), before the all-listing ones (nft) whose listing they take tables from."""
    return [d for d in dialect_registry.dialects() if d.snapshot and not d.lists_all]


def _listings() -> list[Dialect]:
    return [d for d in dialect_registry.dialects() if d.snapshot and d.lists_all]


@dataclass
class Loaded:
    """What the merge needs from each dump, and what it decided."""

    parts: list[Ruleset] = field(default_factory=list)
    owned: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    stubs: dict[tuple[str, str], tuple[str, Table]] = field(default_factory=dict)


def load_save_dumps(read_text: Callable[[str], str | None], loaded: Loaded) -> None:
    """Parse iptables-save.txt, ip6tables-save.txt and ebtables-save.txt when present."""
    listings = "/".join(f for d in _listings() for f, _r in d.snapshot)
    for dialect in save_dumps():
        (name, reader), family, tool = dialect.snapshot[0], dialect.families[0], dialect.tool
        text = read_text(name)
        if text is None:
            loaded.assumptions.append(
                f"no {name}: {tool} rules taken from {listings} only (if any)")
            continue
        rs = dialect_registry.reader(reader)[0].parse(text, name)
        if rs.incompatible:
            rs = _take_stubs(rs, name, family, loaded)
        loaded.parts.append(rs)
        if rs.backend != "legacy":
            for table in rs.tables:
                loaded.owned[(family, table.name)] = (name, rs.backend)


def load_nft(read_text: Callable[[str], str | None], loaded: Loaded) -> None:
    """nft.json (preferred) or nft.txt, minus the tables a save dump already gave."""
    for dialect in _listings():
        _load_listing(dialect, read_text, loaded)


def _load_listing(dialect: Dialect, read_text: Callable[[str], str | None],
                  loaded: Loaded) -> None:
    """The first of the dialect's snapshot files that is there (nft.json, else nft.txt)."""
    present = _first_present(dialect, read_text)
    if present is None:
        files = " or ".join(f for f, _r in dialect.snapshot)
        loaded.assumptions.append(f"no {files}: no native nftables tables assumed")
        for (family, tname), (save_file, stub) in loaded.stubs.items():
            loaded.assumptions.append(
                f"{save_file}: table {family} {tname} has native nft base chains "
                "(\"incompatible base-chains\") and there is no nft.json: only its "
                "iptables-nft part is known")
            loaded.parts.append(Ruleset((stub,), "snapshot"))
        return
    name, reader, text = present
    rs = dialect_registry.reader(reader)[0].parse(text, name)
    rs = replace(rs, registration=tuple((t.family, t.name) for t in rs.tables))
    rs = _with_stubs(rs, name, loaded)
    loaded.parts.append(_without_owned(rs, name, loaded))


def _first_present(dialect: Dialect, read_text: Callable[[str], str | None]
                   ) -> tuple[str, str, str] | None:
    """(file, reader, text) of the first snapshot file there; the later ones are not read."""
    for name, reader in dialect.snapshot:
        text = read_text(name)
        if text is not None:
            return name, reader, text
    return None


def _take_stubs(rs: Ruleset, file: str, family: str, loaded: Loaded) -> Ruleset:
    """Set aside the tables a save dump printed as incompatible stubs (see the docstring)."""
    kept = []
    for table in rs.tables:
        if table.name in rs.incompatible:
            loaded.stubs[(family, table.name)] = (file, table)
        else:
            kept.append(table)
    return Ruleset(tuple(kept), rs.dialect, rs.backend, rs.unsupported, rs.warnings)


def _with_stubs(rs: Ruleset, name: str, loaded: Loaded) -> Ruleset:
    """nft.json's tables, each incompatible one with its xt rules spelt as the save dump did."""
    tables = []
    replaced: set[tuple[str, int]] = set()
    for table in rs.tables:
        got = loaded.stubs.get((table.family, table.name))
        if got is None:
            tables.append(table)
            continue
        save_file, stub = got
        chains = tuple(_xt_from_save(c, stub.chain(c.name), replaced) for c in table.chains)
        tables.append(replace(table, chains=chains))
        loaded.assumptions.append(
            f"table {table.family} {table.name}: {save_file} shows only a stub (it has native "
            f"nft base chains); taken from {name}, its xt rules as {save_file} spells them")
    unsupported = tuple(u for u in rs.unsupported if (u.file, u.line) not in replaced)
    return replace(rs, tables=tuple(tables), unsupported=unsupported)


def _xt_from_save(chain: Chain, saved: Chain | None, replaced: set[tuple[str, int]]) -> Chain:
    """Each rule of `chain` (nft.json) that holds an opaque `xt` expression, replaced by the rule
    at the same place of the save dump's chain of that name; only when the two chains have as
    many rules (else the rules stay opaque, and the verdict uncertain where they decide)."""
    if saved is None or len(saved.rules) != len(chain.rules):
        return chain
    rules = []
    for mine, theirs in zip(chain.rules, saved.rules, strict=True):
        if any(isinstance(e, NftExpr) and e.kind == "xt" for e in mine.exprs):
            rules.append(theirs)
            if mine.source:
                replaced.add((mine.source.file, mine.source.line))
        else:
            rules.append(mine)
    return replace(chain, rules=tuple(rules))


def _without_owned(rs: Ruleset, name: str, loaded: Loaded) -> Ruleset:
    kept: list[Table] = []
    dropped: list[Table] = []
    for table in rs.tables:
        owner = loaded.owned.get((table.family, table.name))
        (dropped if owner else kept).append(table)
    for table in dropped:
        save_file, backend = loaded.owned[(table.family, table.name)]
        why = "its backend is nf_tables" if backend == "nf_tables" else \
            "it has no backend header; assumed nf_tables"
        loaded.assumptions.append(
            f"table {table.family} {table.name} is in both {save_file} and {name}: "
            f"taken from {save_file} only ({why})")
    # a rule's place (file, line) identifies it; its text differs between the rendered rule
    # and the Unsupported record (compact JSON), so compare places only
    gone = {(r.source.file, r.source.line) for t in dropped for c in t.chains
            for r in c.rules if r.source}
    keep_src = {(r.source.file, r.source.line) for t in kept for c in t.chains
                for r in c.rules if r.source}
    unsupported = tuple(u for u in rs.unsupported
                        if (u.file, u.line) not in gone or (u.file, u.line) in keep_src)
    return replace(rs, tables=tuple(kept), unsupported=unsupported)


def merge(parts: list[Ruleset]) -> Ruleset:
    """One Ruleset of dialect "snapshot"; `backend` is the first dump's that has one."""
    merged = Ruleset(dialect="snapshot")
    for part in parts:
        merged = merged.merged_with(part)
    return merged


def load(read_text: Callable[[str], str | None]) -> tuple[Ruleset, list[str]]:
    """All rulesets of a snapshot, merged; and the assumptions made on the way."""
    loaded = Loaded()
    load_save_dumps(read_text, loaded)
    load_nft(read_text, loaded)
    return merge(loaded.parts), loaded.assumptions


__all__ = ["Loaded", "ParseError", "load", "merge"]
