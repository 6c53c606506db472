"""A published port reachable from sources the host firewall refuses (seeds 001 and 004).

Docker's DNAT (or Podman's, netavark's rules) in PREROUTING turns a connection to the host's
port into a forwarded one, so it crosses FORWARD and never INPUT: ufw, firewalld or a
hand-written INPUT policy never sees it.
The intent is computed, not guessed: the same host with the port as a host service (no DNAT, a
socket listening) gives the sources INPUT would admit; what the real host admits beyond that,
with no rule of the admin's on the forward path speaking about this port, is the bypass.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterator

from nflens.analysis import bans
from nflens.analysis.context import AuditContext, Forwarded, Published, Question, rule_ref
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import ORIGINAL, PortGuard, act, ct, forward, ip, origdst, origdstport
from nflens.analysis.native import manager_terms
from nflens.analysis.owners import DNAT_BY
from nflens.analysis.partition import cidrs_of, listed, merge, readable, subtract
from nflens.analysis.portrules import PortIndex, user_nat_rules_on

ID = "input-bypass"
SEVERITY = "high"
TITLE = "Published port bypasses the host firewall's INPUT rules"


def _unhandled(ctx: AuditContext) -> Iterator[Published]:
    """The published ports no rule of the admin's on the forward path addresses (where one
    does, the admin filters the port there, and other findings judge how well)."""
    index: dict[str, PortIndex] = {}
    for p in ctx.ports:  # a native nft port forward too (analysis/forwards.py)
        if p.family not in index:
            index[p.family] = PortIndex([r for _, r in ctx.user_forward_rules(p.family)])
        if not (index[p.family].addressing(p) or user_nat_rules_on(ctx, p)):
            yield p


def applies(ctx: AuditContext, finding: Finding) -> bool:
    """The finding's premise: no rule on the forward path addresses the port (where one
    does, the admin filters it there: audit.fix_script drops this fix as superseded)."""
    return any(p.subject() == finding.subject for p in _unhandled(ctx))


def questions(ctx: AuditContext) -> list[Question]:
    """The intents `detect` asks, one per port, protocol and family (`audit --jobs` answers
    them in its workers)."""
    return [ctx.intent_question(p) for p in _unhandled(ctx)]


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    hooks = [h for h in bans.hooks(ctx) if h.chain == "INPUT"]
    for p in _unhandled(ctx):
        intended = ctx.intended(p)
        covering = [h for h in hooks if h.family == p.family
                    and h.covers(p.binding.proto, p.host_port)]
        if any(h.banned_in_set for h in covering):
            continue  # bans in an ipset not in the snapshot: ban-bypass names the set
        banned = [r for h in covering for r in h.ranges(p.version)]
        excess = {}
        for reach in p.exposure.reach:
            # a jail's bans in INPUT are ban-bypass's, in the jail's terms
            extra = subtract(subtract(reach.version_ranges.get(p.version, []),
                                      intended.get(reach.iface, [])), banned)
            if extra:
                excess[reach.iface] = extra
        if excess:
            out.append(_finding(ctx, p, excess, intended))
    return out


def _finding(ctx: AuditContext, p: Published, excess, intended) -> Finding:
    b = p.binding
    where = "; ".join(f"{iface}: {listed(readable({p.version: r}, ctx.analysis.never))}"
                      for iface, r in excess.items())
    terms = manager_terms(ctx, p)
    rules = [rule_ref(r) for r in _rules_at(ctx, ctx.intended_by(p))]
    if isinstance(p, Forwarded) and p.forward is not None:
        explanation = _forward_explanation(p, where)
        rules.insert(0, rule_ref(p.forward.rule))
    elif terms:
        explanation = (f"{b.proto}/{b.host_port} is published to {p.name}:{b.container_port}. "
                       f"{terms} It is reachable anyway from: {where}.")
    else:
        explanation = (
            f"{b.proto}/{b.host_port} is published to {p.name}:{b.container_port}. "
            f"{DNAT_BY.get(p.container.runtime, 'DNAT')} sends these connections through "
            "FORWARD, so the INPUT chain never sees them. INPUT "
            f"would refuse them from: {where}; the container is reachable from there anyway.")
    keep = {r.iface: subtract(r.version_ranges.get(p.version, []), excess.get(r.iface, []))
            for r in p.exposure.reach}
    return Finding(ID, SEVERITY, TITLE, p.subject(), explanation, rules,
                   _fix(ctx, p, excess, intended), scope={p.subject()},
                   data=(p.binding, p.version, excess, keep))


def _forward_explanation(p: Forwarded, where: str) -> str:
    """A native DNAT to a guest: the kernel rewrites the destination in prerouting, so the
    routing decision forwards the connection and the input hook never sees it
    (net/ipv4/ip_input.c ip_rcv_finish routes after NF_INET_PRE_ROUTING)."""
    b, fwd = p.binding, p.forward
    src = fwd.rule.source if fwd is not None else None
    at = f"{src.file}:{src.line} `{src.text}`" if src else "a DNAT rule"
    behind = f" behind {fwd.bridge}" if fwd is not None and fwd.bridge else ""
    return (f"{b.proto}/{b.host_port} is forwarded to {p.name}:{b.container_port}{behind} by "
            f"{at}. The DNAT in prerouting sends these connections through the forward hook, "
            f"so the input chain never sees them. The input chain would refuse them from: "
            f"{where}; {p.name} is reachable from there anyway.")


def _rules_at(ctx: AuditContext, refs: list[str]) -> list:
    """The rules named by "FILE:LINE TEXT" references (the intent's admitting rules)."""
    wanted = {ref.split(" ", 1)[0] for ref in refs}
    return [r for t in ctx.host.ruleset.tables for c in t.chains for r in c.rules
            if r.source and f"{r.source.file}:{r.source.line}" in wanted]


def still_there(ctx: AuditContext, finding: Finding) -> str | None:
    """Judged exactly, but only where it matters: every source that was wrongly admitted must
    now be refused, and every source the host firewall meant to admit must still get in
    (a fix that over-blocks is no fix). Both are exact partitions of those parts only."""
    binding, version, excess, keep = finding.data
    analysis = ctx.analysis
    dsts = analysis.destinations(binding, version)

    def cells(iface: str, spans: list[tuple[int, int]]):
        # one partition of the spans' hull, not one per span: a ban set's excess and kept
        # parts are one span per banned address (issue 25)
        return [c for dst in dsts for c in analysis._cells(
            version, iface, dst, binding.host_port, binding.proto,
            space=(spans[0][0], spans[-1][1]))]

    for iface, ranges in excess.items():
        spans = merge(ranges)
        for cell in cells(iface, spans) if spans else ():
            if cell.result.verdict != "deny":
                hit = _within_spans(spans, cell.lo, cell.hi)
                if hit is not None:
                    return f"reachable from {_address(version, hit)} on {iface}"
    for iface, ranges in keep.items():
        spans = merge(ranges)
        admitted = merge((c.lo, c.hi) for c in cells(iface, spans)
                         if c.result.verdict == "allow") if spans else []
        if subtract(spans, admitted):
            return f"the fix also refuses sources the host firewall admits on {iface}"
    return None


def _within_spans(spans: list[tuple[int, int]], lo: int, hi: int) -> int | None:
    """The first address of lo..hi inside one of the sorted, merged `spans`, or None."""
    i = bisect.bisect_left([end for _, end in spans], lo)  # the first span ending at lo or on
    if i < len(spans) and spans[i][0] <= hi:
        return max(lo, spans[i][0])
    return None


def _address(version: int, value: int):
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def _fix(ctx: AuditContext, p: Published, excess, intended) -> Fix:
    """Drop, on the forward path before the runtime's accept, the connections to the port's
    original destination (DNAT does not rewrite it) from the sources the host firewall would
    refuse; an interface with many such ranges keeps the intended sources first."""
    b = p.binding
    opts = [origdstport(b.host_port), ORIGINAL]
    if b.host_ip not in ("", "0.0.0.0", "::"):
        opts.append(origdst(b.host_ip))
    state, proto = ct(*opts), b.proto
    rules = []
    for iface, extra in excess.items():
        allowed = cidrs_of(p.version, intended.get(iface, []))
        drops = cidrs_of(p.version, extra)
        if not allowed:
            rules.append((ip(iface=iface, proto=proto), state, act("drop")))
        elif len(drops) <= 4:
            rules += [(ip(src=c, iface=iface, proto=proto), state, act("drop")) for c in drops]
        else:
            rules += [(ip(src=c, iface=iface, proto=proto), state, act("return"))
                      for c in allowed]
            rules.append((ip(iface=iface, proto=proto), state, act("drop")))
    return Fix(rules=[forward(p.family, *r, position=i + 1) for i, r in enumerate(rules)],
               topic="origdst", guard=PortGuard(p, tuple(excess), (ip(proto=proto), state)),
               unplaced="add a rule in a forward-hook chain at priority filter - 1 dropping "
                        f"ct original proto-dst {b.host_port} from the sources above "
                        "(no DOCKER-USER chain here)")

