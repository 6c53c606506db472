"""Docker 28's gateway modes: `routed` and `nat-unprotected` bridge networks.

`com.docker.network.bridge.gateway_mode_ipv4=routed`: no masquerade, no port DNAT; a published
port opens the container's own port to direct (routed) access, other ports stay closed.
`nat-unprotected`: NAT as usual, but no filtering of direct access to the containers' addresses
(every port reachable by routing) and no raw-table drop. The LAN and WAN clients route the
containers' subnets via the host (their default route).
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

MODE = "com.docker.network.bridge.gateway_mode_ipv4"


def build(ctx) -> None:
    ctx.network("routed", "10.55.0.0/24", "10.55.0.1", options={MODE: "routed"})
    ctx.network("natu", "10.56.0.0/24", "10.56.0.1", options={MODE: "nat-unprotected"})
    ctx.server("r1", network="routed", ip="10.55.0.10", ports={"80/tcp": 8085})
    ctx.server("r2", network="routed", ip="10.55.0.11")
    ctx.server("n1", network="natu", ip="10.56.0.10", ports={"80/tcp": 8086})
    ctx.server("n2", network="natu", ip="10.56.0.11")


FLOWS = (
    FlowSpec("lan-r1-direct", "eth0", "10.55.0.10", 80),
    FlowSpec("wan-r1-direct", "eth1", "10.55.0.10", 80),
    FlowSpec("lan-r2-direct", "eth0", "10.55.0.11", 80),
    FlowSpec("lan-r1-published", "eth0", "10.99.0.1", 8085),
    FlowSpec("lan-n1-direct", "eth0", "10.56.0.10", 80),
    FlowSpec("lan-n2-direct", "eth0", "10.56.0.11", 80),
    FlowSpec("lan-n1-published", "eth0", "10.99.0.1", 8086),
    FlowSpec("r1-egress", "container:r1", "198.51.100.2", 80),
    FlowSpec("n1-egress", "container:n1", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="gateway_modes",
    title="Docker 28 gateway modes: routed and nat-unprotected",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(Variant("default", "the two networks, no rules of the admin's"),),
    dockers=("28",),
)
