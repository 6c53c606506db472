"""A published port nobody can reach (seed 000): Docker published it, the container runs, and
yet from every ingress interface every connection dies — on a DOCKER-USER allow-list, in a
forward chain of another table at another priority, on a REJECT that also hits the replies, or
on ebtables dropping the ARP the host needs to reach the container. The explanation lists
every blocker in the order a connection meets them (removing the first reveals the next)."""

from __future__ import annotations

from nflens.analysis.blockers import Blocker
from nflens.analysis.context import AuditContext, Published
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import (
    ORIGINAL,
    act,
    at,
    at_nft,
    ct,
    forward,
    ip,
    origdstport,
    state,
)
from nflens.analysis.obstacles import example_flow, obstacles
from nflens.analysis.obstacles import questions as questions  # what `detect` asks
from nflens.analysis.placement import in_forward_place
from nflens.ir.packet import Flow
from nflens.ir.rules import XtMatch

ID = "unreachable-published-port"
SEVERITY = "medium"
TITLE = "Published port unreachable from every interface"


def detect(ctx: AuditContext) -> list[Finding]:
    return [f for p in ctx.published if (f := _judge(ctx, p)) is not None]


def _judge(ctx: AuditContext, p: Published) -> Finding | None:
    if any(r.version_ranges.get(p.version) or r.uncertain.get(p.version)
           for r in p.exposure.reach):
        return None  # reachable, or perhaps (a source only an unknown decides: not "unreachable")
    found = obstacles(ctx, p)
    if found is None:
        return None  # no address of this family to reach it on: nothing was meant to work
    if not found.blockers:
        return None  # routing or a missing listener, not a rule
    return _finding(p, found.flow, found.blockers, found.passes, _gateway(ctx, p))


def still_there(ctx: AuditContext, finding: Finding) -> str | None:
    """On the fixed host, the finding is gone as soon as one source gets in: the example
    connection passing proves that with one simulation (the exposure's cells are exact, so it
    would lie in an admitted cell). Only when it does not pass is the port judged in full, as
    `detect` does — the same answer, without a whole partition per fixed port."""
    p = _by_subject(ctx).get(finding.subject)
    if p is None:
        return None
    example = example_flow(ctx, p)
    if example is not None and example[1].verdict == "allow":
        return None
    again = _judge(ctx, p)
    return again.explanation if again is not None else None


def _by_subject(ctx: AuditContext) -> dict[str, Published]:
    cache = ctx.__dict__.get("_published_by_subject")
    if cache is None:
        cache = ctx.__dict__["_published_by_subject"] = {p.subject(): p for p in ctx.published}
    return cache


def _finding(p: Published, flow: Flow, found: list[Blocker], passes: bool, gateway
             ) -> Finding:
    steps = "; then ".join(b.describe() for b in found)
    tail = ("With all of them out of the way the connection works." if passes else
            "Something that is not a rule stops it after these.")
    b = p.binding
    explanation = (f"{b.proto}/{b.host_port} (-> {p.name}:{b.container_port}) is reachable from "
                   f"no source on any interface. A connection from {flow.origin.describe()} is "
                   f"stopped by: {steps}. {tail}")
    return Finding(ID, SEVERITY, TITLE, p.subject(), explanation, [x.ref() for x in found],
                   _fix(p, found, gateway), scope={p.subject()})


def _fix(p: Published, found: list[Blocker], gateway) -> Fix:
    b = p.binding
    rules, notes, advice = [], [], []  # advice: the notes where nft rules cannot be placed
    shift = 0

    def say(text: str) -> None:
        notes.append(text)
        advice.append(text)

    for blk in found:
        if in_forward_place(blk.family, blk.table, blk.chain, blk.origin) and blk.index:
            if blk.direction == "reply":
                match: tuple[XtMatch, ...] = (ct(state("RELATED,ESTABLISHED")),)
            else:
                match = (ip(proto=b.proto), ct(origdstport(b.host_port), ORIGINAL))
            rules.append(forward(p.family, *match, act("return"), position=blk.index + shift))
            shift += 1
        elif blk.origin == "nft" and blk.direction == "original":
            rules.append(at_nft(blk.family, blk.table, blk.chain, blk.index,
                                ct(state("DNAT")), ip(proto=b.proto),
                                ct(origdstport(b.host_port)), act("accept")))
            advice.append(f"nft insert rule {blk.family} {blk.table} {blk.chain} ct status "
                          f"dnat meta l4proto {b.proto} ct original proto-dst {b.host_port} "
                          "accept")
        elif blk.origin == "nft":
            rules.append(at_nft(blk.family, blk.table, blk.chain, blk.index,
                                ct(state("ESTABLISHED,RELATED")), act("accept")))
            advice.append(f"nft insert rule {blk.family} {blk.table} {blk.chain} ct state "
                          "established,related accept")
        elif blk.family == "bridge" and blk.origin.startswith("ebtables") and blk.index and \
                "ARP" in blk.text and p.version == 4 and gateway is not None:
            # the host and the container must resolve each other: both ARP directions
            addr = p.container_addr()
            for a, z in ((gateway, addr), (addr, gateway)):
                rules.append(at("bridge", blk.table, blk.chain, blk.index,
                                text=f"-p ARP --arp-ip-src {a} --arp-ip-dst {z} -j ACCEPT"))
        elif blk.family == "bridge":
            say(f"let ARP between {p.name} ({p.container_addr()}) and the bridge's "
                         f"address through {blk.table} {blk.chain} before `{blk.text}` "
                         f"({blk.file}:{blk.line})")
        else:
            say(f"allow this connection before `{blk.text}` ({blk.file}:{blk.line})")
    return Fix(rules=rules, note="\n".join(notes), unplaced="\n".join(advice))


def _gateway(ctx: AuditContext, p: Published):
    """The host's address on the container's bridge (the network's gateway)."""
    for ep in p.container.endpoints:
        net = ctx.host.runtimes.network(ep.network)
        for gw in net.gateways if net else ():
            if gw.version == p.version:
                return gw
    return None
