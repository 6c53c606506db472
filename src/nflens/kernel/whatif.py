"""What would change a denial: the same flow with the deciding rule removed (or the deciding
policy set to accept), simulated again on an otherwise identical host.

This answers the admin's next question concretely — "if I drop this rule, does the flow pass,
or does something else stop it?" — instead of a generic hint. Seed 000 is the classic case:
removing the DOCKER-USER DROP is not enough, ebtables' ARP rule stops web2 next.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from nflens.ir.host import Host
from nflens.ir.packet import Flow
from nflens.ir.rules import Ruleset

if TYPE_CHECKING:  # simulate imports this module
    from nflens.kernel.simulate import FlowResult


def _without_rule(ruleset: Ruleset, family: str, table: str, chain: str, index: int) -> Ruleset:
    tables = []
    for t in ruleset.tables:
        if t.family == family and t.name == table:
            chains = tuple(replace(c, rules=c.rules[: index - 1] + c.rules[index:])
                           if c.name == chain else c for c in t.chains)
            t = replace(t, chains=chains)
        tables.append(t)
    return replace(ruleset, tables=tuple(tables))


def _with_policy_accept(ruleset: Ruleset, family: str, table: str, chain: str) -> Ruleset:
    tables = []
    for t in ruleset.tables:
        if t.family == family and t.name == table:
            t = replace(t, chains=tuple(replace(c, policy="accept") if c.name == chain else c
                                        for c in t.chains))
        tables.append(t)
    return replace(ruleset, tables=tuple(tables))


def what_would_change(host: Host, flow: Flow,
                      result: FlowResult) -> tuple[str, FlowResult] | None:
    """(description of the change, FlowResult after it) for a denied flow, else None. `host`
    is one a Simulator was built on, so its ruleset passed the load check."""
    from nflens.kernel.simulate import Simulator

    if result.verdict != "deny":
        return None
    if result.stopped_at is not None:
        ref = result.stopped_at
        where = f"{ref.rule.source.file}:{ref.rule.source.line}" if ref.rule.source else ""
        change = f"without rule {ref.chain}#{ref.index} ({where})"
        ruleset = _without_rule(host.ruleset, ref.family, ref.table, ref.chain, ref.index)
    elif result.stopped_policy is not None:
        family, table, chain, _policy = result.stopped_policy
        change = f"with policy ACCEPT on {family} {table} {chain}"
        ruleset = _with_policy_accept(host.ruleset, family, table, chain)
    else:
        return None
    return change, Simulator(replace(host, ruleset=ruleset), loadable=True).run(flow)
