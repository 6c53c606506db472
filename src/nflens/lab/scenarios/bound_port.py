"""A port published on one host address (`-p 10.99.0.1:8080:80`) is reachable from the WAN too.

The admin binds the port to the LAN address believing that keeps the internet out. Linux is a
weak host (RFC 1122 3.3.4.2; net/ipv4/route.c ip_route_input_slow finds a local route for any of
the host's addresses whatever the input interface): a WAN client that routes 10.99.0.1 via this
host (its default route does) reaches the port, through Docker's DNAT (`-d 10.99.0.1/32`) and
FORWARD, or through docker-proxy bound to 10.99.0.1. The fix that holds: a DOCKER-USER rule
dropping DNATed connections to that address from the WAN interface (`fixed`).
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant

FIX = ("iptables -I DOCKER-USER -i eth1 -m conntrack --ctstate DNAT --ctorigdst 10.99.0.1 "
       "-j DROP",)


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": ("10.99.0.1", 8080)})  # 172.17.0.2


FLOWS = (
    FlowSpec("lan-bound", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-bound", "eth1", "10.99.0.1", 8080),
    FlowSpec("wan-wanaddr", "eth1", "198.51.100.1", 8080),
    FlowSpec("host-bound", "host", "10.99.0.1", 8080),
    FlowSpec("wan-host-service", "eth1", "10.99.0.1", 8000),
)

SCENARIO = Scenario(
    name="bound_port",
    title="a port published on the LAN address, reached from the WAN",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("proxy", "userland-proxy=true (default)", (), DaemonConfig()),
        Variant("noproxy", "userland-proxy=false", (), DaemonConfig(userland_proxy=False)),
        Variant("fixed", "DOCKER-USER drops DNATed connections to 10.99.0.1 from eth1", FIX,
                DaemonConfig()),
    ),
)
