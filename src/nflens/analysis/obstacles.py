"""What stops an example connection to a published port (the unreachable-port and
egress-blocks-replies findings both ask it of every port they judge): the connection from a
neighbour, its verdict, and the blockers met in order. One answer per port, shared by the
findings, and a pure function of the host and the port: `audit --jobs` answers it in its
workers (only the connection, the verdict and the blockers travel back)."""

from __future__ import annotations

from dataclasses import dataclass

from nflens.analysis.blockers import Blocker, blockers
from nflens.analysis.context import AuditContext, Published, Question
from nflens.analysis.neighbours import neighbour
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import FlowResult


@dataclass(frozen=True)
class Obstacles:
    flow: Flow
    verdict: str
    blockers: list[Blocker]  # in the order met; none unless the connection is denied
    passes: bool  # whether it passes once they are all out of the way


def example_flow(ctx: AuditContext, p: Published) -> tuple[Flow, FlowResult] | None:
    """A connection from a neighbour on the first ingress interface that has one."""
    for iface in ctx.analysis.ifaces:
        pair = neighbour(ctx.host, iface, p.version)
        if pair is None:
            continue
        src, dst = pair
        flow = Flow(f"{iface}->{p.subject()}", Endpoint(iface=iface, src=src), dst,
                    p.binding.host_port, p.binding.proto)
        return flow, ctx.sim.run(flow)
    return None


def _find(ctx: AuditContext, p: Published) -> Obstacles | None:
    example = example_flow(ctx, p)
    if example is None:
        return None  # no address of this family to reach it on
    flow, result = example
    found, passes = blockers(ctx.host, flow, result)
    return Obstacles(flow, result.verdict, found, passes)


def obstacles(ctx: AuditContext, p: Published) -> Obstacles | None:
    """The example connection to `p` and what stops it; None when `p` has no address of its
    family to be reached on."""
    found: Obstacles | None = ctx.answer(_question(ctx, p))
    return found


def questions(ctx: AuditContext) -> list[Question]:
    """`obstacles` of every published port, as Questions."""
    return [_question(ctx, p) for p in ctx.published]


def _question(ctx: AuditContext, p: Published) -> Question:
    return Question(("obstacles", p.subject()), lambda: _find(ctx, p))
