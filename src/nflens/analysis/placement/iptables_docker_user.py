"""iptables hosts where Docker's iptables backend owns the forward path: forward rules go into
DOCKER-USER (Docker jumps to it from FORWARD before its own rules, and never touches its
content: docs.docker.com "Docker with iptables", DOCKER-USER "processed before rules in the
DOCKER-FORWARD and DOCKER chains"), host-input rules into filter INPUT, and a rule of one
chain (a rewrite, a delete, an accept before a blocker) into that chain, in its dialect
(iptables, ip6tables, ebtables: dialect_registry.tool_for).

The text is each edit's command line; the edits are the same rule specifications parsed by the
project's iptables (ebtables) parser, so what is verified is what the admin types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nflens.analysis.fixes import FORWARD_CHAIN, Edit, Fix, iptables_table
from nflens.analysis.intent import FixRule, Where
from nflens.dialects.iptables.generate import rule_words
from nflens.ir.rules import Action

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext

NAME = "iptables"
RANK = 30
DUMPS = {"ip": "iptables-save.txt", "ip6": "ip6tables-save.txt"}
# What a fix's rules mean, said in this placement's terms (intent topics)
TOPICS = {
    "origdst": "rules in DOCKER-USER match the original destination port, which DNAT does not "
               "rewrite",
    "ctdir": "or add --ctdir ORIGINAL to the blocking rule",
    "nat-trick": "better still: drop the nat-table trick, filter in DOCKER-USER with -m "
                 "conntrack --ctorigdstport, and consider userland-proxy=false in daemon.json",
}


def spec(rule: FixRule) -> str:
    """The rule as an iptables rule specification (without `-A CHAIN`)."""
    words: list[str] = []
    for e in rule.exprs:
        if isinstance(e, Action) and e.name == "reject" and not e.get("with"):
            words += ["-j", "REJECT"]
        else:
            words += rule_words((e,))
    return " ".join(words)


def _has_chain(ctx: AuditContext, family: str, table: str, chain: str) -> bool:
    for t in ctx.host.ruleset.tables:
        if t.family == family and t.name == table and t.origin.startswith(
                ("iptables", "ebtables")):
            return t.chain(chain) is not None
    return False


def _places(ctx: AuditContext, rule: FixRule) -> bool:
    if rule.where is Where.FORWARD:
        table = iptables_table(ctx.host, rule.family)
        return table is not None and table.chain(FORWARD_CHAIN) is not None
    if rule.where is Where.INPUT:  # an empty dump says iptables holds the path, unless
        # native nft tables of the family do (Docker 29's nftables backend, an nftables.conf)
        return iptables_table(ctx.host, rule.family) is not None or (
            DUMPS.get(rule.family, "") in ctx.host.files and not _native(ctx, rule.family))
    return _has_chain(ctx, rule.family, rule.table, rule.chain)


def _native(ctx: AuditContext, family: str) -> bool:
    return any(t.origin == "nft" and t.family in (family, "inet") and any(
        c.is_base for c in t.chains) for t in ctx.host.ruleset.tables)


def owns(ctx: AuditContext, fix: Fix) -> bool:
    return all(_places(ctx, r) for r in fix.rules)


def edit(rule: FixRule) -> Edit:
    if rule.where is Where.FORWARD:
        return Edit(rule.family, "filter", FORWARD_CHAIN, rule.position, spec(rule))
    if rule.where is Where.INPUT:
        return Edit(rule.family, "filter", "INPUT", rule.position, spec(rule))
    return Edit(rule.family, rule.table, rule.chain, rule.position,
                None if rule.delete else (rule.text or spec(rule)))


def note(fix: Fix, topics: dict[str, str] = TOPICS) -> str:
    return "; ".join(x for x in (topics.get(fix.topic, ""), fix.note) if x)


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    return Fix([edit(r) for r in fix.rules], note=note(fix), rules=fix.rules, guard=fix.guard)
