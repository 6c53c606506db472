"""The audit's egress report: per Docker network, where its containers can open connections
on the common outbound services. Each (network, service) is a pure question of the host, so
`audit --jobs` answers them in its workers (only the destination intervals travel back)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nflens.analysis.context import AuditContext, Question
from nflens.ir.host import Container, Network

EGRESS_SERVICES = ((443, "tcp"), (80, "tcp"), (53, "udp"))


def _asked(ctx: AuditContext) -> Iterator[tuple[Network, Container, int, str]]:
    """Per Docker network with a bridge, one running member stands for it (Docker's rules are
    per network), on each service."""
    for net in ctx.host.runtimes.networks:
        member = next((c for c in ctx.host.runtimes.containers if c.running and any(
            ep.network in (net.name, net.id) and ep.ipv4 for ep in c.endpoints)), None)
        if member is None or not net.bridge:
            continue
        for port, proto in EGRESS_SERVICES:
            yield net, member, port, proto


def questions(ctx: AuditContext) -> list[Question]:
    return [_question(ctx, member, port, proto) for _, member, port, proto in _asked(ctx)]


def _question(ctx: AuditContext, member: Container, port: int, proto: str) -> Question:
    return Question(("egress", member.name, port, proto),
                    lambda: ctx.analysis.egress_answer(member, 4, port, proto))


def egress(ctx: AuditContext) -> list[dict[str, Any]]:
    """The destinations reachable per network and service, as minimal CIDR lists."""
    from nflens.analysis.partition import cidrs_of, readable

    out = []
    for net, member, port, proto in _asked(ctx):
        ranges, unsure, because = ctx.answer(_question(ctx, member, port, proto))
        row = {"network": net.name, "container": member.name.lstrip("/"),
               "proto": proto, "port": port, "destinations": cidrs_of(4, ranges),
               "readable": readable({4: ranges}, ctx.analysis.never)}
        if unsure:  # never silently missing: what no snapshot decides is said (issue 25)
            row["uncertain"] = {"destinations": cidrs_of(4, unsure),
                                "readable": readable({4: unsure}, ctx.analysis.never),
                                "because": because}
        out.append(row)
    return out
