"""`nflens policy plan`: compile for the host's dialect, show the diff, verify on the simulator.

The dialect follows the host: Docker's nftables backend (Docker 29 `firewall-backend: nftables`)
or a host without iptables' DOCKER-USER but with native nftables tables gets the own nft table;
every other host gets iptables chains under DOCKER-USER (iptables-legacy or iptables-nft alike:
iptables-restore speaks to whichever backend the host uses).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from nflens import dialect_registry
from nflens.errors import PolicyError
from nflens.ir.host import Host
from nflens.policy import iptables as xt
from nflens.policy import nft
from nflens.policy.coexist import late_docker_user
from nflens.policy.compile import compile_rules
from nflens.policy.conflicts import Conflict, conflicts
from nflens.policy.model import Compiled
from nflens.policy.resolve import Resolved, resolve
from nflens.policy.schema import Policy
from nflens.policy.verify import Verification, verify


def xt_step(version: int) -> str:
    """The apply step (a dialect's name) of an iptables family: 4 -> iptables, 6 -> ip6tables."""
    return dialect_registry.of_family(xt.FAMILY[version]).name


def host_dialect(host: Host) -> str:
    if host.docker.daemon.firewall_backend == "nftables":
        return "nft"
    has_user = any(t.name == "filter" and t.origin.startswith("iptables") and t.chain("DOCKER-USER")
                   for t in host.ruleset.tables)
    native = any(t.origin == "nft" and t.name != nft.TABLE for t in host.ruleset.tables)
    return "nft" if native and not has_user else "iptables"


@dataclass
class Plan:
    dialect: str
    resolved: Resolved
    compiled: Compiled
    before: Host
    after: Host
    diff: str
    payloads: dict[str, str]  # "iptables" / "ip6tables" / "nft" -> transaction text
    verification: Verification | None = None
    conflicts: list[Conflict] = field(default_factory=list)  # statements that cannot hold

    @property
    def ok(self) -> bool:
        return not self.conflicts and (self.verification is None or self.verification.ok)


def _diff(old: list[str], new: list[str], name: str) -> str:
    lines = difflib.unified_diff(old, new, f"{name} (now)", f"{name} (policy)", lineterm="", n=2)
    return "\n".join(lines)


def iptables_diff(before: Host, after: Host) -> str:
    parts = []
    for version, family in xt.FAMILY.items():
        tool = dialect_registry.tool_for(family)
        for chain in ("DOCKER-USER", "INPUT", *xt.CHAIN.values()):
            old = xt.current_lines(before, version, chain) or []
            new = xt.current_lines(after, version, chain) or []
            if old != new:
                parts.append(_diff(old, new, f"{tool} filter {chain}"))
    return "\n".join(parts)


def make_plan(policy: Policy, host: Host, dialect: str | None = None,
              check: bool = True, allow_missing: bool = False, progress=None) -> Plan:
    """`progress(done, total)`: per verified probe (see `verify`)."""
    dialect = dialect or host_dialect(host)
    known = dialect_registry.policy_dialects()
    if dialect not in known:
        raise PolicyError(f"unknown dialect {dialect!r}; choose one of {', '.join(known)}")
    res = resolve(policy, host, allow_missing)
    compiled = compile_rules(res)
    if dialect == "nft":
        if compiled.take_over:
            raise PolicyError("take_over is for iptables hosts (DOCKER-USER, ebtables); "
                              "an nft policy lives in its own table")
        after = nft.with_policy(host, compiled)
        diff = _diff(nft.current_text(host), nft.current_text(after), "table inet nflens")
        payloads = {"nft": nft.transaction(compiled)}
    else:
        after = xt.with_policy(host, compiled)
        diff = iptables_diff(host, after)
        payloads = {xt_step(v): xt.restore_payload(compiled, host, v) for v in xt.families(host)}
        res.warnings.extend(late_docker_user(host))
        if not payloads:
            res.warnings.append("no iptables filter table on this host (is Docker running?): "
                                "nothing to hook into yet")
    if "ebtables" in compiled.take_over:
        after, eb_diff = _without_ebtables(after)
        diff = "\n".join(p for p in (diff, eb_diff) if p)
        payloads["ebtables"] = EBTABLES_EMPTY
    plan = Plan(dialect, res, compiled, host, after, diff, payloads, conflicts=conflicts(res))
    if check:
        plan.verification = verify(host, after, res, progress)
    return plan


# take_over: [ebtables] -- the bridge filter table emptied, as `ebtables -F` did in seed 000
EBTABLES_EMPTY = "*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n"


def _without_ebtables(host: Host) -> tuple[Host, str]:
    from dataclasses import replace

    tables = []
    old: list[str] = []
    for t in host.ruleset.tables:
        if t.family == "bridge" and t.name == "filter":
            old += [f"-A {c.name} {r.text}".rstrip() if not r.text.startswith("-A") else r.text
                    for c in t.chains for r in c.rules]
            chains = tuple(replace(c, rules=(), policy="accept") for c in t.chains if c.is_base)
            t = replace(t, chains=chains)
        tables.append(t)
    after = replace(host, ruleset=replace(host.ruleset, tables=tuple(tables)))
    return after, _diff(old, [], "ebtables filter") if old else ""
