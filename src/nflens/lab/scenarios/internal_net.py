"""An `--internal` Docker network: no route out, and a published port that goes nowhere.

Docker 20.10 gives an internal bridge network no MASQUERADE and no port DNAT, and adds
DOCKER-ISOLATION rules that drop anything entering or leaving the bridge for another interface
(`! -s SUBNET -o BRIDGE -j DROP`, `-i BRIDGE ! -d SUBNET -j DROP`). The host itself still
reaches the containers (OUTPUT/INPUT, not FORWARD) and containers on the same network reach each
other. A second container on a normal network shows the difference.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant


def build(ctx) -> None:
    ctx.network("backend", "10.88.0.0/24", "10.88.0.1", internal=True)
    ctx.network("frontend", "10.77.0.0/24", "10.77.0.1")
    ctx.server("db", network="backend", ip="10.88.0.10", ports={"80/tcp": 8081})
    ctx.server("db2", network="backend", ip="10.88.0.11")
    ctx.server("app", network="frontend", ip="10.77.0.10", ports={"80/tcp": 8080})


FLOWS = (
    FlowSpec("lan-db-published", "eth0", "10.99.0.1", 8081),
    FlowSpec("lan-app-published", "eth0", "10.99.0.1", 8080),
    FlowSpec("lan-db-direct", "eth0", "10.88.0.10", 80),
    FlowSpec("host-db-direct", "host", "10.88.0.10", 80),
    FlowSpec("local-db-published", "host", "127.0.0.1", 8081),
    FlowSpec("db-egress", "container:db", "198.51.100.2", 80),
    FlowSpec("db-to-db2", "container:db", "10.88.0.11", 80),
    FlowSpec("db-to-host", "container:db", "10.88.0.1", 8000),
    FlowSpec("app-to-db", "container:app", "10.88.0.10", 80),
    FlowSpec("app-egress", "container:app", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="internal_net",
    title="--internal network beside a normal one",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("proxy", "userland-proxy=true (default)", (), DaemonConfig()),
        Variant("noproxy", "userland-proxy=false", (), DaemonConfig(userland_proxy=False)),
    ),
)
