"""Docker's own options: userland-proxy, hairpin NAT, icc=false, host-local connections.

No user rules at all: what a stock Docker 20.10 host does with
- `userland-proxy` true/false: host-local connections (127.0.0.1:8080, the host's own address)
  and hairpin connections (a container to a published port of the same host) are carried by
  docker-proxy, or by DNAT in nat OUTPUT / PREROUTING plus the hairpin MASQUERADE rule.
  nat OUTPUT's DOCKER jump excludes 127.0.0.0/8 (`! -d 127.0.0.0/8`), so without the proxy
  nothing carries 127.0.0.1:8080 to the container.
- `icc=false`: `-i docker0 -o docker0 -j DROP` in FORWARD blocks container-to-container traffic on
  the bridge (br_netfilter makes bridged IPv4 traverse FORWARD); the published port is still
  reachable from another container only if the proxy (or the hairpin DNAT + ACCEPT in DOCKER)
  carries it.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": 8080})   # 172.17.0.2
    ctx.server("client")                          # 172.17.0.3, publishes nothing


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("local-web", "host", "127.0.0.1", 8080),
    FlowSpec("host-web-lanaddr", "host", "10.99.0.1", 8080),
    FlowSpec("host-web-gateway", "host", "172.17.0.1", 8080),
    FlowSpec("client-web-direct", "container:client", "172.17.0.2", 80),
    FlowSpec("client-web-hairpin", "container:client", "10.99.0.1", 8080),
    FlowSpec("client-web-gateway", "container:client", "172.17.0.1", 8080),
    FlowSpec("web-self-hairpin", "container:web", "10.99.0.1", 8080),
    FlowSpec("client-to-host", "container:client", "172.17.0.1", 8000),
    FlowSpec("client-egress", "container:client", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="docker_options",
    title="userland-proxy, hairpin NAT, icc=false, host-local connections",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("proxy", "defaults: userland-proxy=true, icc=true", (), DaemonConfig()),
        Variant("noproxy", "userland-proxy=false (hairpin NAT instead of docker-proxy)", (),
                DaemonConfig(userland_proxy=False)),
        Variant("icc-false", "icc=false, userland-proxy=true", (), DaemonConfig(icc=False)),
        Variant("icc-false-noproxy", "icc=false, userland-proxy=false", (),
                DaemonConfig(icc=False, userland_proxy=False)),
    ),
)
