"""Where Docker 20.10, 26 and 28 differ: direct routing to containers, and IPv6.

A LAN or WAN client that routes a packet straight to a container's own address (no DNAT: the
host is its gateway, as on a flat LAN) meets:
- Docker 20.10 and 26: FORWARD (ACCEPT here: forwarding was on before dockerd) and Docker's
  DOCKER chain, whose `-d CONTAINER ! -i BRIDGE -o BRIDGE --dport 80 -j ACCEPT` for a published
  port accepts it like a DNATed packet; a container publishing nothing is left to the FORWARD
  policy.
- Docker 28: `-t raw -A PREROUTING -d CONTAINER ! -i BRIDGE -j DROP` for every container, before
  conntrack and routing, and `! -i BRIDGE -o BRIDGE -j DROP` at the end of DOCKER for the ports
  nobody published (moby 28.0 "direct routing" protection).
The network has an IPv6 subnet too. `ip6tables` is experimental and off in 20.10, off by default
in 26 and on by default in 28: only 28 writes IPv6 DNAT, filter and raw rules; before, a
published port is carried over IPv6 by docker-proxy alone (or by nothing without it) and the
containers' IPv6 addresses are routed like any other. Variant forward-drop sets both FORWARD
policies to DROP, so only what Docker's own rules accept passes (20.10 and 26: nothing over IPv6
at all, a container's IPv6 egress included).
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant

NET, NET6 = "10.66.0.0/24", "fd00:66::/64"


def build(ctx) -> None:
    ctx.network("v6net", NET, "10.66.0.1", subnet6=NET6, gateway6="fd00:66::1")
    ctx.server("web", network="v6net", ip="10.66.0.2", ip6="fd00:66::2",
               ports={"80/tcp": 8080})
    ctx.server("idle", network="v6net", ip="10.66.0.3", ip6="fd00:66::3")  # publishes nothing


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("lan-web-direct", "eth0", "10.66.0.2", 80),
    FlowSpec("wan-web-direct", "eth1", "10.66.0.2", 80),
    FlowSpec("lan-idle-direct", "eth0", "10.66.0.3", 80),
    FlowSpec("host-web-direct", "host", "10.66.0.2", 80),
    FlowSpec("idle-web", "container:idle", "10.66.0.2", 80),
    FlowSpec("lan-web6", "eth0", "2001:db8:1::1", 8080),
    FlowSpec("lan-web6-direct", "eth0", "fd00:66::2", 80),
    FlowSpec("lan-idle6-direct", "eth0", "fd00:66::3", 80),
    FlowSpec("idle6-egress", "container:idle", "2001:db8:2::2", 80),
)

SCENARIO = Scenario(
    name="docker_versions",
    title="direct routing to containers and IPv6: where Docker 20.10, 26 and 28 differ",
    story=__doc__,
    build=build,
    flows=FLOWS,
    ipv6=True,
    variants=(
        Variant("proxy", "defaults (userland-proxy=true)", (), DaemonConfig()),
        Variant("noproxy", "userland-proxy=false", (), DaemonConfig(userland_proxy=False)),
        Variant("forward-drop", "FORWARD policy DROP in both families: only Docker's own accepts "
                "remain", ("iptables -P FORWARD DROP", "ip6tables -P FORWARD DROP")),
    ),
)
