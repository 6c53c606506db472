"""Fixes as data: the commands a user runs, and the same edits applied to a snapshot's IR.

A finding's fix is verified by applying its edits to the Host and running the finding again on
the result: the fix is only offered as verified when the problem is gone there. Edits are
iptables rule specifications (`-p tcp -m conntrack --ctorigdstport 8080 -j DROP`), parsed by
the project's own iptables parser, so what is verified is exactly what the user will type.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from nflens.analysis.intent import FixRule
from nflens.dialect_registry import tool_for
from nflens.dialects.ebtables.parser import parse as parse_ebtables
from nflens.dialects.iptables.generate import command
from nflens.dialects.iptables.parser import parse as parse_iptables
from nflens.errors import NflensError
from nflens.ir.host import Host
from nflens.ir.rules import Chain, Rule, Ruleset, Source, Table

# The chain Docker (iptables backend) keeps for its users' forward rules: a fix all in it only
# ever meets forwarded packets (placement/iptables_docker_user.py writes it).
FORWARD_CHAIN = "DOCKER-USER"

@dataclass(frozen=True)
class Edit:
    """Insert (at 1-based `position`), append (position 0) or delete (`spec` None) a rule."""

    family: str  # "ip" / "ip6"
    table: str
    chain: str
    position: int
    spec: str | None  # the rule without "-A CHAIN"; None: delete the rule at `position`

    def command(self) -> str:
        return command(tool_for(self.family), self.table, self.chain, self.position, self.spec)


@dataclass
class Fix:
    """What to do, as commands, with the edits that verify it; `note` for what is not code."""

    edits: list[Edit] = field(default_factory=list)
    note: str = ""
    verified: bool | None = None  # None: not checkable (a note only)
    verification: str = ""
    # What the user types when it is not the edits' iptables commands: a firewall manager's own
    # commands and files (ufw, firewalld), whose effect on the rules the edits are.
    shown: str = ""
    # The intent (analysis/intent.py): what the rules must do and where in the decision; a
    # placement (analysis/placement/) turns it into `edits`/`nft` and `shown` for the host.
    rules: list[FixRule] = field(default_factory=list)
    topic: str = ""  # a sentence the placement words in its own terms (placement.TOPICS)
    guard: Any = None  # the published port the rules guard (a manager may say it its way)
    nft: str = ""  # the nft script (inside the fix's here-document) verified with the edits
    forward_only: bool | None = None  # None: judged from the edits (all in FORWARD_CHAIN)
    unplaced: str = ""  # the advice when no placement can write the rules on this host
    # rules for chains of the host's own nft tables: (family, table, chain, 0-based index or
    # None for the end, the rule's nft text)
    nft_at: list[tuple[str, str, str, int | None, str]] = field(default_factory=list)
    # persistence files the fix rewrites (path below persist/, the text after the fix): what
    # `shown`'s file edit leaves, so the finding about the file is judged on the new text
    files: list[tuple[str, str]] = field(default_factory=list)
    manager: str = ""  # the firewall manager whose form `shown` is (placement NAME: "ufw")

    @property
    def checkable(self) -> bool:
        return bool(self.edits or self.nft or self.nft_at or self.files)

    @property
    def inserts_only(self) -> bool:
        return self.checkable and all(e.spec is not None for e in self.edits)

    @property
    def forward(self) -> bool:
        """Every change meets forwarded packets only (a connection to the host itself never
        crosses them)."""
        if self.forward_only is not None:
            return self.forward_only
        return all(e.chain == FORWARD_CHAIN for e in self.edits)

    def text(self) -> str:
        lines = [self.shown] if self.shown else [e.command() for e in self.edits]
        if self.note:
            lines.append(self.note if not lines else f"# {self.note}")
        return "\n".join(lines)


def combine(fixes: list[Fix]) -> Fix:
    """Several fixes as one (their edits in order, their nft scripts as one, each line once):
    what the audit verifies together, and the host's merged fix script."""
    lines = [ln for f in fixes for ln in f.nft.splitlines()]
    return Fix([e for f in fixes for e in f.edits],
               nft="".join(f"{ln}\n" for ln in dict.fromkeys(lines)),
               forward_only=all(f.forward for f in fixes),
               nft_at=list(dict.fromkeys(a for f in fixes for a in f.nft_at)),
               files=[pf for f in fixes for pf in f.files])


def _rule(edit: Edit) -> Rule:
    if edit.family == "bridge":
        text = f"*{edit.table}\n:{edit.chain} ACCEPT\n-A {edit.chain} {edit.spec}\n"
        ruleset = parse_ebtables(text, "fix")
    else:
        text = f"*{edit.table}\n:{edit.chain} - [0:0]\n-A {edit.chain} {edit.spec}\nCOMMIT\n"
        ruleset = parse_iptables(text, "fix", family=edit.family)
    table = ruleset.table(edit.family, edit.table)
    chain = table.chain(edit.chain) if table is not None else None
    if chain is None or not chain.rules:  # the text above declares both and adds the rule
        raise NflensError(f"fix rule {edit.spec!r} did not parse into {edit.table} {edit.chain}")
    rule = chain.rules[0]
    return replace(rule, source=Source("nflens-fix", 0, f"-A {edit.chain} {edit.spec}"))


BUILTIN = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
           "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
           "raw": ("PREROUTING", "OUTPUT")}


def _empty_table(family: str, name: str) -> Table:
    text = "".join(f":{c} ACCEPT [0:0]\n" for c in BUILTIN[name])
    table = parse_iptables(f"*{name}\n{text}COMMIT\n", "fix", family=family).table(family, name)
    assert table is not None  # the text above declares it
    return table


def apply(host: Host, fix: Fix) -> Host:
    """The host as it would be with the fix's edits made (the live rules are not touched)."""
    host = _apply_edits(host, fix) if fix.edits else host
    host = _apply_nft(host, fix.nft) if fix.nft else host
    for at in fix.nft_at:
        host = _insert_nft(host, *at)
    for path, text in fix.files:  # each text is the whole file after its fix (one per file)
        if path not in dict(host.persist):
            raise NflensError(f"fix: no persistence file {path} in this snapshot")
        host = replace(host, persist=tuple((p, text if p == path else t)
                                           for p, t in host.persist))
    return host


def _insert_nft(host: Host, family: str, table: str, chain: str, index: int | None,
                text: str) -> Host:
    """One rule into a chain of the host's nft table, as nft reads it (parsed in a scratch
    declaration of the same table and chain)."""
    parsed = nft_script_ruleset(f"add table {family} {table}\nadd chain {family} {table} "
                                f"{chain}\nadd rule {family} {table} {chain} {text}\n")
    new = parsed.tables[0].chains[0].rules[0]
    tables = list(host.ruleset.tables)
    idx = next((i for i, t in enumerate(tables) if t.family == family and t.name == table
                and t.origin == "nft"), None)
    target = tables[idx].chain(chain) if idx is not None else None
    if idx is None or target is None:
        raise NflensError(f"fix: no nft chain {family} {table} {chain} here")
    rules = list(target.rules)
    rules.insert(len(rules) if index is None else index, new)
    chains = tuple(replace(c, rules=tuple(rules)) if c.name == chain else c
                   for c in tables[idx].chains)
    tables[idx] = replace(tables[idx], chains=chains)
    return replace(host, ruleset=replace(host.ruleset, tables=tuple(tables)))


@lru_cache(maxsize=256)
def nft_script_ruleset(script: str) -> Ruleset:
    """The fix's nft script as nft itself reads it (the project's nft text reader: the real
    nft in a throwaway namespace), so what is verified is what the admin will load."""
    from nflens.dialects.nft.textparse import parse_text

    return parse_text(script, "nflens-fix")


def _apply_nft(host: Host, script: str) -> Host:
    """The script's tables added to the host's nftables ruleset; a table the host already has
    (same family, name, native nft) gets the script's chains, and its rules after its own."""
    tables = list(host.ruleset.tables)
    registration = list(host.ruleset.registration)
    for new in nft_script_ruleset(script).tables:
        idx = next((i for i, t in enumerate(tables) if t.family == new.family
                    and t.name == new.name and t.origin == "nft"), None)
        if idx is None:
            tables.append(new)
            if registration:
                registration.append((new.family, new.name))
            continue
        chains = {c.name: c for c in tables[idx].chains}
        for c in new.chains:
            old = chains.get(c.name)
            chains[c.name] = c if old is None else replace(old, rules=old.rules + c.rules)
        tables[idx] = replace(tables[idx], chains=tuple(chains.values()))
    ruleset = replace(host.ruleset, tables=tuple(tables), registration=tuple(registration))
    return replace(host, ruleset=ruleset)


def _apply_edits(host: Host, fix: Fix) -> Host:
    tables = list(host.ruleset.tables)
    for edit in fix.edits:
        idx = next((i for i, t in enumerate(tables)
                    if t.family == edit.family and t.name == edit.table
                    and t.origin.startswith(("iptables", "ebtables"))), None)
        if idx is None and edit.family in ("ip", "ip6") and edit.table in BUILTIN \
                and edit.chain in BUILTIN[edit.table]:
            # A built-in table the host has not used yet (firewalld's direct rules in mangle
            # FORWARD): the tool creates it with its built-in chains at the first rule.
            tables.append(_empty_table(edit.family, edit.table))
            idx = len(tables) - 1
        if idx is None:
            raise NflensError(f"fix: no {edit.family} {edit.table} table from "
                              f"{tool_for(edit.family)} here")
        table = tables[idx]
        chains = list(table.chains)
        cidx = next((i for i, c in enumerate(chains) if c.name == edit.chain), None)
        if cidx is None:
            chains.append(Chain(edit.chain))
            cidx = len(chains) - 1
        rules = list(chains[cidx].rules)
        if edit.spec is None:
            del rules[edit.position - 1]
        elif edit.position:
            rules.insert(edit.position - 1, _rule(edit))
        else:
            rules.append(_rule(edit))
        chains[cidx] = replace(chains[cidx], rules=tuple(rules))
        tables[idx] = replace(table, chains=tuple(chains))
    return replace(host, ruleset=replace(host.ruleset, tables=tuple(tables)))


def iptables_table(host: Host, family: str, name: str = "filter") -> Table | None:
    for t in host.ruleset.tables:
        if t.family == family and t.name == name and t.origin.startswith("iptables"):
            return t
    return None
