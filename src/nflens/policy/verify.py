"""Prove a compiled policy on the simulator: every statement holds, nothing else changed.

Each probe (flows.py) is simulated on the host as it is and as it will be. A statement *speaks
about* a probe when the probe is in its scope (the port it names, the containers it selects);
it then says what the verdict must be afterwards. The first statement in chain order decides,
as in the compiled chains (a container's own statement before its network's). A probe no
statement speaks about must keep its verdict: if it changed, the plan reports it as an
unintended change and fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nflens.ir.host import Host
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.kernel.trace import RuleStep
from nflens.policy.flows import Probe, direct_refused, probes
from nflens.policy.iptables import CHAIN
from nflens.policy.resolve import EgressRule, InboundPort, Resolved, ToHostRule

OWN_CHAINS = frozenset(CHAIN.values())


def _in(addr, nets) -> bool:
    return nets is None or any(addr in n for n in nets)


def _inbound(st: InboundPort, p: Probe) -> str | None:
    """A published port; a direct connection to the container port is the same connection
    for conntrack when the host port equals the container port (`-p 80:80`)."""
    if p.container != st.target.container or p.proto != st.proto:
        return None
    if p.kind == "inbound" and p.host_port != st.host_port:
        return None
    if p.kind == "direct" and not (p.port == st.container_port == st.host_port):
        return None
    if p.kind not in ("inbound", "direct"):
        return None
    return "allow" if _in(p.src, st.sources) else "deny"


def _scoped(st: EgressRule | ToHostRule, p: Probe) -> bool:
    if p.bridge != st.bridge:
        return False
    return st.sources is None or any(p.caddr in n for n in st.sources)


def _egress(st: EgressRule, p: Probe) -> str | None:
    if p.kind != "egress" or not _scoped(st, p):
        return None
    if st.default == "allow" or (st.dns and p.port == 53):
        return "allow"
    for nets, port, proto in st.allow:
        if _in(p.dst, nets) and port in (None, p.port) and proto in (None, p.proto):
            return "allow"
    return "deny"


def _to_host(st: ToHostRule, p: Probe) -> str | None:
    if p.kind != "to_host" or not _scoped(st, p):
        return None
    if st.default == "allow" or (p.port, p.proto) in st.allow:
        return "allow"
    return "deny"


@dataclass
class Judged:
    probe: Probe
    before: FlowResult
    after: FlowResult
    statement: str | None  # label of the statement that speaks about it
    expect: str | None
    decided_by: str | None = None  # the host firewall that decides it, not the policy

    @property
    def changed(self) -> bool:
        return self.before.verdict != self.after.verdict

    @property
    def holds(self) -> bool:
        return self.expect is None or self.after.verdict == self.expect

    @property
    def unintended(self) -> bool:
        return self.changed and self.statement is None


@dataclass
class Verification:
    judged: list[Judged] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Judged]:
        return [j for j in self.judged if not j.holds]

    @property
    def unintended(self) -> list[Judged]:
        return [j for j in self.judged if j.unintended]

    @property
    def changes(self) -> list[Judged]:
        return [j for j in self.judged if j.changed]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unintended

    def unexercised(self) -> list[str]:
        seen = {j.statement for j in self.judged}
        return [s for s in self.statements if s not in seen]


def judge(res: Resolved, p: Probe, refused: frozenset[tuple[str, str]] = frozenset()
          ) -> tuple[str | None, str | None]:
    """(statement label, expected verdict) of the first statement that speaks about `p`.
    `refused`: (address, bridge) of containers whose direct access Docker itself drops
    (flows.direct_refused, Docker >= 28): a policy only narrows what Docker lets through, so a
    statement allowing a direct connection there expects what Docker does: deny."""
    for st in res.inbound:
        v = _inbound(st, p)
        if v is not None:
            if v == "allow" and p.kind == "direct" and (str(p.dst), p.bridge) in refused:
                v = "deny"
            return st.label, v
    if p.kind in ("inbound", "direct") and res.closed_bridges:
        return "inbound default closed", "deny"
    for eg in res.egress:
        v = _egress(eg, p)
        if v is not None:
            return eg.label, v
    for th in res.to_host:
        v = _to_host(th, p)
        if v is not None:
            return th.label, v
    return None, None


def _replaced(res: Resolved, before: FlowResult) -> str | None:
    """A policy replaces the previous nflens rules, and with `take_over` what others left in
    DOCKER-USER / the bridge filter table: a flow one of those rules decided (matched) before
    is a change the policy asked for."""
    for step in before.steps:
        if not isinstance(step, RuleStep) or step.matched is not True:
            continue
        if step.chain in OWN_CHAINS or (step.table == "nflens" and step.family == "inet"):
            return "replaces the previous nflens policy"
        if "DOCKER-USER" in res.take_over and step.chain == "DOCKER-USER" \
                and step.family in ("ip", "ip6"):
            return "take_over DOCKER-USER"
        if "ebtables" in res.take_over and step.family == "bridge" and step.table == "filter":
            return "take_over ebtables"
    return None


FIREWALLD = "firewalld"


def _firewalld_refuses(was: FlowResult) -> bool:
    """Did firewalld's own table (`table inet firewalld`, its zones' forward chains) refuse the
    flow on the host as it is? firewalld accepts `ct status dnat` (a published port) but rejects
    a client routed straight to a container's address unless a zone lets it through: that is
    firewalld's decision, which a policy in Docker's chains never overrides (lab: seed002_radius,
    firewalld_zones `*-direct` flows, deny on every Docker version)."""
    ref = was.stopped_at
    return was.verdict == "deny" and ref is not None and ref.table == FIREWALLD \
        and ref.family in ("inet", "ip", "ip6")


DOCKER_RAW = "Docker's raw PREROUTING drop of direct access"


def _host_decides(p: Probe, expect: str | None, was: FlowResult,
                  refused: frozenset[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(expected verdict, decided_by): a direct connection the policy allows but the host
    refuses by itself -- Docker >= 28's raw table (flows.direct_refused), or firewalld's zones
    -- is expected denied, and named in the proof as that decision, not the policy's."""
    if expect != "allow" or p.kind != "direct":
        return expect, None
    if (str(p.dst), p.bridge) in refused:
        return "deny", DOCKER_RAW
    if _firewalld_refuses(was):
        return "deny", FIREWALLD
    return expect, None


def verify(before: Host, after: Host, res: Resolved,
           progress: Callable[[int, int], None] | None = None) -> Verification:
    """`progress(done, total)` hears about every probe (a progress bar on a terminal)."""
    sim_before, sim_after = Simulator(before), Simulator(after)
    out = Verification(statements=list(dict.fromkeys(
        [s.label for s in res.inbound] + (["inbound default closed"] if res.closed_bridges else [])
        + [s.label for s in res.egress] + [s.label for s in res.to_host])))
    refused = frozenset(direct_refused(before))
    todo = list(probes(before, res))
    for n, p in enumerate(todo, 1):
        label, expect = judge(res, p)
        was = sim_before.run(p.flow)
        expect, decided_by = _host_decides(p, expect, was, refused)
        if label is None:
            label = _replaced(res, was)
        out.judged.append(Judged(p, was, sim_after.run(p.flow), label, expect, decided_by))
        if progress is not None:
            progress(n, len(todo))
    return out
