"""Many flows against one host: the engine of `nflens check` and of the lab's comparison."""

from __future__ import annotations

from collections.abc import Iterable

from nflens.ir.host import Host
from nflens.ir.packet import Flow
from nflens.kernel.simulate import FlowResult, Simulator


def check_flows(host: Host, flows: Iterable[Flow]) -> list[FlowResult]:
    sim = Simulator(host)
    return [sim.run(flow) for flow in flows]
