"""What every finding needs about one host, computed once: the simulator, the exposure of
every published port and socket, Docker's and the user's chains, and the "intended" reach of a
port as the host firewall alone would decide it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from nflens.analysis.exposure import (
    Exposure,
    ExposureAnalysis,
    Reach,
    container_addr,
    host_addresses,
)
from nflens.analysis.forwards import Forward, forwards
from nflens.analysis.owners import RuleOwners
from nflens.errors import NflensError
from nflens.ir.host import RUNTIMES, Container, Host, PortBinding, Socket
from nflens.ir.rules import Action, Rule, XtMatch
from nflens.kernel.simulate import Simulator

DOCKER_CHAINS = {"DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2",
                 "DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-INTERNAL",
                 "DOCKER-INGRESS"}


@dataclass(eq=False)
class Published:
    """A published port; its exposure is computed on first use (many findings need only the
    binding)."""

    container: Container
    binding: PortBinding
    analysis: ExposureAnalysis

    @cached_property
    def exposure(self) -> Exposure:
        found = self.analysis.published(self.container, self.binding)
        if found is None:  # ExposureAnalysis.published answers every binding with a host port
            raise NflensError(f"no exposure computed for {self.subject()}")
        return found

    @property
    def host_port(self) -> int:
        """The binding's host port: AuditContext.published makes a Published only for a binding
        that has one."""
        port = self.binding.host_port
        if port is None:
            raise NflensError(f"{self.subject()}: a published port without a host port")
        return port

    @property
    def version(self) -> int:
        return 6 if ":" in self.binding.host_ip else 4

    @property
    def family(self) -> str:
        return "ip6" if self.version == 6 else "ip"

    @property
    def name(self) -> str:
        return self.container.name.lstrip("/")

    def container_addr(self):
        addr = container_addr(self.container, self.version)
        return ipaddress.ip_address(addr) if addr else None

    def subject(self) -> str:
        b = self.binding
        return f"{b.proto}/{b.host_ip or '0.0.0.0'}:{b.host_port}->{self.name}:{b.container_port}"


@dataclass(eq=False)
class Forwarded(Published):
    """A port the admin forwards with a native nft DNAT to a guest that is not a container
    (analysis/forwards.py): asked like a published port, its target named as what it is."""

    forward: Forward | None = None

    @cached_property
    def exposure(self) -> Exposure:
        found = Published.exposure.func(self)  # type: ignore[attr-defined]
        fwd = self.forward
        if fwd is not None:
            src = fwd.rule.source
            # the contract's container target shape (no container: None), plus what it is
            found.target = {"container": None, "addr": self.name,
                            "port": self.binding.container_port, "dnat": self.name,
                            "behind": fwd.bridge,
                            "rule": f"{src.file}:{src.line} {src.text}" if src else ""}
        return found

    def dnat_rule(self) -> Rule | None:
        return self.forward.rule if self.forward is not None else None


@dataclass(frozen=True)
class Question:
    """A pure question a finding will ask about the host, put before the findings run so that
    `audit --jobs` answers it in its worker processes with the exposures: `ask()` answers from
    the host alone (in this process or a forked one; only the answer travels back). The
    context remembers answers by `key` (`AuditContext.answer`), so a question two findings
    ask is answered once, and `detect` finds the workers' answers there."""

    key: tuple
    ask: Callable[[], Any]


def rule_ref(rule: Rule) -> dict[str, Any]:
    src = rule.source
    return {"file": src.file if src else "", "line": src.line if src else 0,
            "text": src.text if src else str(rule.exprs)}


class AuditContext:
    def __init__(self, host: Host, scope: set[str] | None = None):
        """`scope`: when verifying a fix, the published ports (subjects) that matter."""
        self.host = host
        self.scope = scope
        self.sim = Simulator(host)
        self.analysis = ExposureAnalysis(host, self.sim)
        self._answers: dict[tuple, Any] = {}  # Question.key -> its answer
        self.questions: list[Question] = []  # being answered (analysis.audit._answer_all)

    @cached_property
    def owners(self) -> RuleOwners:
        """Who owns each rule (Docker, ufw, firewalld, ...): findings speak the owner's terms."""
        return RuleOwners(self.host)

    @cached_property
    def published(self) -> list[Published]:
        out = []
        for c in self.host.runtimes.containers:
            if not c.running:
                continue
            for b in c.ports:
                if b.host_port:
                    p = Published(c, b, self.analysis)
                    if self.scope is None or p.subject() in self.scope:
                        out.append(p)
        return out

    @cached_property
    def forwarded(self) -> list[Forwarded]:
        """The admin's native nft port forwards to guests that are not containers."""
        out = [Forwarded(f.guest, f.binding, self.analysis, f) for f in forwards(self.host)]
        return [p for p in out if self.scope is None or p.subject() in self.scope]

    @property
    def ports(self) -> list[Published]:
        """Every port forwarded to somewhere else: the runtime's published ones, then the
        admin's own forwards (the order the audit's exposure lists them in)."""
        return [*self.published, *self.forwarded]

    @cached_property
    def sockets(self) -> list[tuple[Socket, Exposure]]:
        from nflens.analysis.exposure import _service_socket

        return [(s, self.analysis.socket(s)) for s in self.host.sockets if _service_socket(s)]

    # --- the user's forward-path rules ----------------------------------------------------------
    def user_forward_rules(self, family: str) -> Iterator[tuple[str, Rule]]:
        """Rules the admin wrote on the forward path: DOCKER-USER, and forward base chains of
        tables Docker does not own (nft tables other than docker's / iptables-nft's)."""
        for t in self.host.ruleset.tables:
            if t.family not in (family, "inet"):
                continue
            for c in t.chains:
                if c.name == "DOCKER-USER" or (
                        t.origin == "nft" and t.name not in ("docker-bridges", "docker")
                        and c.hook == "forward"):
                    yield from self._with_called(t, c, set())

    def _with_called(self, table, chain, seen: set[str]) -> Iterator[tuple[str, Rule]]:
        """A chain's rules and those of the chains it jumps to (ufw-docker's DOCKER-USER hands
        connections to ufw-user-forward, where `ufw route allow` rules live)."""
        seen.add(chain.name)
        for r in chain.rules:
            yield chain.name, r
            for a in r.actions:
                target = a.get("chain") if a.name in ("jump", "goto") else None
                called = table.chain(target) if isinstance(target, str) else None
                if called is not None and called.name not in seen:
                    yield from self._with_called(table, called, seen)

    # --- questions the findings ask, answerable anywhere ---------------------------------------
    def answer(self, q: Question) -> Any:
        """`q.ask()`, remembered: answered once, here or by the audit's mapper (`keep`)."""
        if q.key not in self._answers:
            self._answers[q.key] = q.ask()
        return self._answers[q.key]

    def keep(self, q: Question, answer: Any) -> None:
        self._answers[q.key] = answer

    def unanswered(self, questions: Iterable[Question]) -> list[Question]:
        """The questions not answered yet, each key once."""
        return [q for key, q in {q.key: q for q in questions}.items() if key not in self._answers]

    def reach(self, version: int, dsts: list, port: int, proto: str) -> list[Reach]:
        """`analysis.reach`, remembered."""
        result: list[Reach] = self.answer(self.reach_question(version, dsts, port, proto))
        return result

    def reach_question(self, version: int, dsts: list, port: int, proto: str) -> Question:
        return Question(("reach", version, tuple(dsts), port, proto),
                        lambda: self.analysis.reach(version, dsts, port, proto))

    # --- intent: the host firewall alone ------------------------------------------------------
    def intended(self, p: Published) -> dict[str, list[tuple[int, int]]]:
        """Per interface, the sources the host firewall (INPUT and friends) lets in on this
        port if it were a service of the host, not a container's: the same host with no DNAT
        and a socket listening on the port."""
        ranges: dict[str, list[tuple[int, int]]] = self.answer(self.intent_question(p))[0]
        return ranges

    def intended_by(self, p: Published) -> list[str]:
        """The rules that admit the intended sources ("FILE:LINE TEXT", as `admitted_by`)."""
        rules: list[str] = self.answer(self.intent_question(p))[1]
        return rules

    def intent_question(self, p: Published) -> Question:
        """`intended(p)` and `intended_by(p)` as one Question, per protocol, port and family."""
        self._unpublished  # built here, so that forked workers inherit it  # noqa: B018
        return Question(("intent", p.binding.proto, p.host_port, p.version),
                        lambda: self._intent(p))

    def adopt_intents(self, other: AuditContext) -> None:
        """The intents `other` knows, for a context whose host differs from other's only where
        the intent does not look (analysis.audit._fixed_context)."""
        self._answers.update((k, v) for k, v in other._answers.items() if k[0] == "intent")

    def _intent(self, p: Published) -> tuple[dict[str, list[tuple[int, int]]], list[str]]:
        analysis = self._unpublished
        dsts = [ipaddress.ip_address(p.binding.host_ip)] if p.binding.host_ip not in \
            ("", "0.0.0.0", "::") else host_addresses(analysis.host, analysis.ifaces, p.version)
        reach = analysis.reach(p.version, dsts, p.host_port, p.binding.proto)
        return ({r.iface: r.version_ranges.get(p.version, []) for r in reach},
                list(dict.fromkeys(rule for r in reach for rule in r.admitted_by)))

    @cached_property
    def _unpublished(self) -> ExposureAnalysis:
        """One host for every intent question: no DNAT at all, and a host socket on every
        published port (the ports as if they were the host's own services)."""
        return ExposureAnalysis(_without_publishing(self.host, self.ports))


def _without_publishing(host: Host, published: list[Published]) -> Host:
    tables = []
    for t in host.ruleset.tables:
        chains = []
        for c in t.chains:
            rules = tuple(r for r in c.rules if not any(
                isinstance(e, Action) and e.name in ("dnat", "redirect") for e in r.exprs))
            chains.append(replace(c, rules=rules))
        tables.append(replace(t, chains=tuple(chains)))
    ports = {(p.binding.proto, p.host_port, p.version) for p in published}
    sockets = tuple(s for s in host.sockets
                    if (s.proto, s.port, s.addr.version) not in ports) + tuple(
        Socket(proto, ipaddress.ip_address("::" if v == 6 else "0.0.0.0"), port,
               "(as a host service)") for proto, port, v in sorted(ports))
    return replace(host, ruleset=replace(host.ruleset, tables=tuple(tables)), sockets=sockets,
                   **{name: replace(getattr(host, name), containers=()) for name in RUNTIMES})


def matches_of(rule: Rule) -> list[XtMatch]:
    return [e for e in rule.exprs if isinstance(e, XtMatch)]


def action_of(rule: Rule) -> Action | None:
    for e in rule.exprs:
        if isinstance(e, Action) and e.name not in ("counter", "comment", "log"):
            return e
    return None
