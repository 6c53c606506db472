"""The compiled policy as iptables: own chains in the filter table, jumped from DOCKER-USER
(forwarded traffic, where Docker's published ports go: seed 001) and INPUT (container -> host).

The live change is one `iptables-restore --noflush` per family. Under --noflush a chain
declaration `:NFLENS-USER - [0:0]` flushes that user chain if it exists (and creates it if not),
so re-applying replaces the own chains in one transaction and never touches Docker's. The jumps
are inserted only when they are missing or not first (`-D` + `-I 1` in the same transaction).
With `take_over: [DOCKER-USER]` DOCKER-USER itself is declared (flushed) and refilled with the
jump and `-j RETURN` (what Docker writes into an empty DOCKER-USER).

For the simulator the same change is made to the snapshot's IR: the own chains' text is parsed
by nflens's own iptables-save parser (the words iptables-restore will read are the words that are
simulated) and the chains DOCKER-USER and INPUT get their new first rule.
"""

from __future__ import annotations

from dataclasses import replace

from nflens.dialects import iptables as xt
from nflens.dialects.iptables.generate import quote_word, rule_words
from nflens.ir.host import Host
from nflens.ir.rules import Chain, Table
from nflens.policy.model import Compiled, PRule

CHAIN = {"forward": "NFLENS-USER", "inbound": "NFLENS-INBOUND", "egress": "NFLENS-EGRESS",
         "input": "NFLENS-INPUT"}
HOOKED = {"DOCKER-USER": "NFLENS-USER", "INPUT": "NFLENS-INPUT"}  # chain -> our jump in it
FAMILY = {4: "ip", 6: "ip6"}
BASE = (":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]")


def _comment(text: str) -> str:
    """A rule's comment as the `--comment` word. Not just quote_word: double quotes become
    single ones, so the comment a person reads in `iptables -L` needs no escape, and the text
    is cut to 240 characters before it is quoted, so the cut never splits an escape (it did
    when it came after: a doubled backslash cut in half escaped the closing quote, a line
    iptables-restore refuses). xt_comment takes at most 255 bytes: 240 characters fit when
    they are ASCII, not every UTF-8 text."""
    return quote_word(text.replace('"', "'")[:240])


def rule_args(r: PRule) -> list[str]:
    w: list[str] = []
    for flag, net in (("-s", r.src), ("-d", r.dst)):
        if net is not None:
            w += [flag, str(net)]
    for flag, iface, neg in (("-i", r.iif, r.iif_neg), ("-o", r.oif, r.oif_neg)):
        if iface:
            w += (["!"] if neg else []) + [flag, iface]
    if r.proto:
        w += ["-p", r.proto]
        if r.dport is not None:
            w += ["-m", r.proto, "--dport", str(r.dport)]
    if r.orig_dport is not None:
        w += ["-m", "conntrack", "--ctorigdstport", str(r.orig_dport), "--ctdir", "ORIGINAL"]
    if r.ctstate:
        w += ["-m", "conntrack", "--ctstate", ",".join(s.upper() for s in r.ctstate)]
    if r.comment:
        w += ["-m", "comment", "--comment", _comment("nflens: " + r.comment)]
    verb, _, target = r.verdict.partition(" ")
    w += ["-j", CHAIN[target] if verb == "jump" else verb.upper()]
    return w


def own_chains(compiled: Compiled, version: int) -> dict[str, list[str]]:
    """Chain -> its rules as `-A` lines, for the four own chains (always all four)."""
    return {name: [" ".join(["-A", name] + rule_args(r))
                   for r in compiled.chain(key, version)] for key, name in CHAIN.items()}


def families(host: Host) -> list[int]:
    """The IP versions whose iptables filter table exists. A missing one (ip6tables with
    Docker's IPv6 off) is left alone: creating it would make a rollback inexact, and Docker
    creates it when it starts using it -- then the next apply (watch, the unit) hooks in."""
    return [v for v in FAMILY if _table(host, v) is not None]


def _table(host: Host, version: int) -> Table | None:
    t = host.ruleset.table(FAMILY[version], "filter")
    return t if t is not None and t.origin.startswith("iptables") else None


def current_lines(host: Host, version: int, chain: str) -> list[str] | None:
    """A chain's rules as canonical `-A` lines (None when the chain does not exist)."""
    t = _table(host, version)
    c = t.chain(chain) if t else None
    if c is None:
        return None
    return [" ".join(["-A", chain] + [quote_word(w) for w in rule_words(r.exprs)])
            for r in c.rules]


def _jump_first(lines: list[str] | None, chain: str, target: str) -> bool:
    return bool(lines and lines[0] == f"-A {chain} -j {target}")


def desired(compiled: Compiled, host: Host, version: int) -> dict[str, list[str]]:
    """The full new content of every chain the policy changes (own chains, DOCKER-USER, INPUT)."""
    out = own_chains(compiled, version)
    for chain, target in HOOKED.items():
        cur = current_lines(host, version, chain) or []
        if chain == "DOCKER-USER" and "DOCKER-USER" in compiled.take_over:
            out[chain] = [f"-A {chain} -j {target}", f"-A {chain} -j RETURN"]
            continue
        jump = f"-A {chain} -j {target}"
        out[chain] = [jump] + [line for line in cur if line != jump]
    return out


def restore_payload(compiled: Compiled, host: Host, version: int) -> str:
    """Input for `iptables-restore --noflush` (or ip6tables-restore): one transaction."""
    own = own_chains(compiled, version)
    lines = ["*filter"] + [f":{name} - [0:0]" for name in own]
    take_over = "DOCKER-USER" in compiled.take_over
    exists = current_lines(host, version, "DOCKER-USER") is not None
    if take_over or not exists:
        lines.append(":DOCKER-USER - [0:0]")
    for name_lines in own.values():
        lines += name_lines
    for chain, target in HOOKED.items():
        cur = current_lines(host, version, chain)
        if chain == "DOCKER-USER" and (take_over or not exists):
            lines += [f"-A DOCKER-USER -j {target}", "-A DOCKER-USER -j RETURN"]
            continue
        if _jump_first(cur, chain, target):
            continue
        if cur and f"-A {chain} -j {target}" in cur:
            lines.append(f"-D {chain} -j {target}")
        lines.append(f"-I {chain} 1 -j {target}")
    return "\n".join(lines + ["COMMIT"]) + "\n"


def with_policy(host: Host, compiled: Compiled) -> Host:
    """The host as it will be after the apply (what the simulator verifies)."""
    ruleset = host.ruleset
    tables = list(ruleset.tables)
    for version in families(host):
        family = FAMILY[version]
        new = desired(compiled, host, version)
        old = _table(host, version)
        if old is None:  # families() lists only the versions that have the table
            continue
        text = "\n".join(["*filter", *BASE] + [f":{c} - [0:0]" for c in new if c != "INPUT"]
                         + [line for lines in new.values() for line in lines] + ["COMMIT"])
        parsed = xt.parse(text + "\n", f"<policy {family}>", family=family).tables[0]
        tables[tables.index(old)] = _merge(old, parsed)
    return replace(host, ruleset=replace(ruleset, tables=tuple(tables)))


def _merge(old: Table, new: Table) -> Table:
    """`old` with every chain that `new` defines replaced (base chains keep hook and policy)."""
    replaced = {c.name: c for c in new.chains}
    chains: list[Chain] = []
    for c in old.chains:
        if c.name in replaced and (c.name in HOOKED or c.name in CHAIN.values()):
            chains.append(replace(c, rules=replaced.pop(c.name).rules))
        else:
            replaced.pop(c.name, None) if c.is_base else None
            chains.append(c)
    chains += [c for c in replaced.values() if not c.is_base]
    return replace(old, chains=tuple(chains))
