"""A benchmark host shaped like a real one: N containers on M user-defined bridge networks,
P published ports and a DOCKER-USER allow-list, built with a real dockerd.

Why: the synthetic hosts of `make bench` (one network rule per container, a two-rule
DOCKER-USER) ran 1,000+ flows/s while a real Debian 20.10 host with 400 containers took 74 s for
4,800 flows (issue 14). A real host's DOCKER-USER is an allow-list written by its admin, in the
usual shape (seed 004's lesson: `--ctorigdstport`, because DNAT rewrote the port already):

    -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    -i br+ -o br+ -j ACCEPT                  container to container across networks
    -o eth0 -j ACCEPT / -o eth1 -j ACCEPT    egress
    -p tcp -m conntrack --ctorigdstport P [-s LAN] -j ACCEPT     one per allowed port
    -j DROP

Not a seed story, so it is not in `MODULES` (no fixture, not run by `make test`):
`make bench-hosts` builds it (bench/hosts.py) and keeps the snapshot under bench/hosts/.
The probes are a small sample (allowed from the LAN, LAN-only from the WAN, not allowed,
container egress and container to container) so the simulator's agreement is checked on the
bench host too.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant

LAN = "10.99.0.0/24"
HOST_LAN, HOST_WAN = "10.99.0.1", "198.51.100.1"
FIRST_PORT = 20000


def published_port(i: int) -> int:
    return FIRST_PORT + i


def allow_list(published: int, allowed: int) -> list[str]:
    """The admin's DOCKER-USER: `allowed` of the published ports, every third one LAN-only."""
    lines = ["iptables -F DOCKER-USER",
             "iptables -A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
             "iptables -A DOCKER-USER -i br+ -o br+ -j ACCEPT",
             "iptables -A DOCKER-USER -o eth0 -j ACCEPT",
             "iptables -A DOCKER-USER -o eth1 -j ACCEPT"]
    for i in range(min(allowed, published)):
        src = f" -s {LAN}" if i % 3 == 2 else ""
        lines.append(f"iptables -A DOCKER-USER{src} -p tcp -m conntrack --ctorigdstport "
                     f"{published_port(i)} -j ACCEPT")
    lines.append("iptables -A DOCKER-USER -j DROP")
    return lines


def make(containers: int = 400, networks: int = 10, published: int = 200,
         allowed: int = 115, daemon: DaemonConfig | None = None) -> Scenario:
    """The scenario for one size; `allowed` + 5 is the length of DOCKER-USER (120 by default)."""
    per_net = -(-containers // networks)

    def build(ctx) -> None:
        for n in range(networks):
            ctx.docker.client.networks.create(f"net{n}", driver="bridge")
        for c in range(containers):
            ports = {"80/tcp": published_port(c)} if c < published else None
            ctx.server(f"c{c}", network=f"net{c // per_net}", ports=ports)

    last_allowed = min(allowed, published) - 1
    lan_only = 2 if last_allowed >= 2 else 0
    flows = (
        FlowSpec("lan-allowed", "eth0", HOST_LAN, published_port(0)),
        FlowSpec("wan-allowed", "eth1", HOST_WAN, published_port(1)),
        FlowSpec("lan-lan-only", "eth0", HOST_LAN, published_port(lan_only)),
        FlowSpec("wan-lan-only", "eth1", HOST_WAN, published_port(lan_only)),
        FlowSpec("wan-not-allowed", "eth1", HOST_WAN, published_port(min(published - 1,
                                                                          last_allowed + 1))),
        FlowSpec("lan-not-published", "eth0", HOST_LAN, published_port(published) + 1000),
        FlowSpec("c0-egress", "container:c0", "198.51.100.2", 80),
        FlowSpec("c0-host-published", "container:c0", HOST_LAN, published_port(1)),
    )
    return Scenario(
        name=f"bench_host-{containers}c-{networks}n-{published}p",
        title=f"{containers} containers on {networks} networks, {published} published ports, "
              f"a {min(allowed, published) + 5}-rule DOCKER-USER allow-list",
        story=__doc__, build=build, flows=flows,
        variants=(Variant("allowlist", "the admin's allow-list in DOCKER-USER",
                          tuple(allow_list(published, allowed)),
                          daemon or DaemonConfig()),),
        host_services=())
