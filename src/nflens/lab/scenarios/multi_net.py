"""A container on an `--internal` network and on a normal one: its default route is the normal
network's gateway.

Docker gives the container one default route, through the gateway of an endpoint that can have
one: an internal network provides none (libnetwork sandbox.getGatewayEndpoint skips internal
networks and networks without a gateway; Docker 28 orders the rest by gw-priority). `multi` is
created on `backend` (internal) and connected to `frontend`: its egress leaves by frontend's
bridge and is masqueraded, while it still talks to `db` on backend over that bridge.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant


def build(ctx) -> None:
    ctx.network("backend", "10.88.0.0/24", "10.88.0.1", internal=True)
    frontend = ctx.network("frontend", "10.77.0.0/24", "10.77.0.1")
    ctx.server("db", network="backend", ip="10.88.0.10")
    ctx.server("app", network="frontend", ip="10.77.0.10")
    multi = ctx.server("multi", network="backend", ip="10.88.0.20")
    frontend.connect(multi, ipv4_address="10.77.0.20")


FLOWS = (
    FlowSpec("multi-egress", "container:multi", "198.51.100.2", 80),
    FlowSpec("multi-lan", "container:multi", "10.99.0.2", 80),
    FlowSpec("multi-to-db", "container:multi", "10.88.0.10", 80),
    FlowSpec("multi-to-app", "container:multi", "10.77.0.10", 80),
    FlowSpec("multi-to-host", "container:multi", "10.99.0.1", 8000),
    FlowSpec("db-to-multi", "container:db", "10.88.0.20", 80),
    FlowSpec("app-to-multi", "container:app", "10.77.0.20", 80),
    FlowSpec("db-egress", "container:db", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="multi_net",
    title="a container on an internal and a normal network",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("proxy", "userland-proxy=true (default)", (), DaemonConfig()),
    ),
)
