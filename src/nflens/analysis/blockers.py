"""Everything that stands between a flow and its destination, in order.

The simulator names the first rule (or policy) that denies a flow; `blockers()` removes it on a
copy of the host and simulates again, until the flow passes or nothing more can be removed.
Seed 000 needs this: the DOCKER-USER DROP hides the ebtables ARP DROP behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nflens.ir.host import Host
from nflens.ir.packet import Flow
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.kernel.trace import PolicyStep, RuleStep
from nflens.kernel.whatif import _with_policy_accept, _without_rule

MAX_BLOCKERS = 4


@dataclass
class Blocker:
    family: str
    table: str
    chain: str
    index: int | None  # None: the chain's policy
    text: str
    file: str
    line: int
    direction: str  # original / reply: which half of the connection it stopped
    origin: str  # iptables-nft, nft, ebtables, ...

    def ref(self) -> dict:
        return {"file": self.file, "line": self.line, "text": self.text}

    def describe(self) -> str:
        where = f"{self.family} {self.table} {self.chain}"
        what = f"#{self.index} {self.text}" if self.index else self.text
        return f"{where} {what} ({self.direction} direction)"


def _direction(result: FlowResult) -> str:
    ref = result.stopped_at
    for step in reversed(result.steps):
        if isinstance(step, RuleStep) and ref is not None and step.chain == ref.chain and \
                step.index == ref.index and step.table == ref.table and step.matched is True:
            return step.direction
        if ref is None and isinstance(step, PolicyStep) and result.stopped_policy and \
                step.chain == result.stopped_policy[2]:
            return step.direction
    return "original"


def _origin(host: Host, family: str, table: str) -> str:
    t = host.ruleset.table(family, table)
    return t.origin if t else ""


def blockers(host: Host, flow: Flow, first: FlowResult | None = None) -> tuple[list[Blocker], bool]:
    """(the blockers in the order met, whether the flow passes once all are removed)."""
    out: list[Blocker] = []
    result = first or Simulator(host).run(flow)
    for _ in range(MAX_BLOCKERS):
        if result.verdict != "deny":
            return out, result.verdict == "allow"
        ref, pol = result.stopped_at, result.stopped_policy
        direction = _direction(result)
        if ref is not None:
            src = ref.rule.source
            out.append(Blocker(ref.family, ref.table, ref.chain, ref.index, ref.rule.text,
                               src.file if src else "", src.line if src else 0, direction,
                               _origin(host, ref.family, ref.table)))
            host = replace(host, ruleset=_without_rule(host.ruleset, ref.family, ref.table,
                                                       ref.chain, ref.index))
        elif pol is not None:
            fam, table, chain, policy = pol
            out.append(Blocker(fam, table, chain, None, f"policy {policy}", "", 0, direction,
                               _origin(host, fam, table)))
            host = replace(host, ruleset=_with_policy_accept(host.ruleset, fam, table, chain))
        else:
            return out, False  # denied by something that is not a rule (routing, no listener)
        result = Simulator(host, loadable=True).run(flow)  # only less than a checked host
    return out, result.verdict == "allow"
