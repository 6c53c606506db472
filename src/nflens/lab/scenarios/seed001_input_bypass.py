"""seed001 — a published port bypasses the INPUT chain.

The story (shared/seeds/001): a host with a public address filters with iptables INPUT (policy
DROP, ufw-like rules: loopback, RELATED/ESTABLISHED, a service allowed only from the LAN). A
container is published with `-p 8080:80`. Nothing in INPUT allows 8080, yet the port is reachable
from everywhere: nat PREROUTING's DOCKER chain DNATs the packet to the container before the
routing decision, so it is *forwarded* (FORWARD, DOCKER-USER, DOCKER) and never sees INPUT.

Here dockerd turns ip_forward on itself, so it sets the FORWARD policy to DROP, as on a fresh host.

Variants:
- broken: INPUT rules only.
- fixed: `DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080 -j DROP` — conntrack
  remembers the original (pre-DNAT) destination port, so the rule names the published port.
- fixed-container-port: the write-up's own fix, matching the *container* address and port
  after DNAT (`-d 172.17.0.0/16 --dport 80`).
- wrong-port: `DOCKER-USER -i eth1 -p tcp --dport 8080 -j DROP` — never matches: by FORWARD the
  destination port already is 80 (the DNAT happened in PREROUTING).
Host-local connections (127.0.0.1:8080) reach docker-proxy through INPUT's `-i lo` rule, and the
container reaching a host service (172.17.0.1:8000) *does* go through INPUT, where it is dropped.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

INPUT_RULES = (
    "iptables -P INPUT DROP",
    "iptables -A INPUT -i lo -j ACCEPT",
    "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A INPUT -i eth0 -p tcp --dport 8000 -j ACCEPT",
    "iptables -A INPUT -p icmp -j ACCEPT",
)


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": 8080})


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
    FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
    FlowSpec("wan-hostsvc", "eth1", "198.51.100.1", 8000),
    FlowSpec("local-web", "host", "127.0.0.1", 8080),
    FlowSpec("host-web-direct", "host", "172.17.0.2", 80),
    FlowSpec("web-to-host", "container:web", "172.17.0.1", 8000),
    FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
    FlowSpec("wan-to-lan-peer", "eth1", "10.99.0.2", 80),
)

SCENARIO = Scenario(
    name="seed001_input_bypass",
    title="published port bypasses INPUT",
    story=__doc__,
    build=build,
    flows=FLOWS,
    forward_first=False,
    variants=(
        Variant("broken", "INPUT policy DROP without 8080; the published port is open anyway",
                INPUT_RULES),
        Variant("fixed", "DOCKER-USER drops WAN by conntrack original destination port",
                INPUT_RULES + ("iptables -I DOCKER-USER -i eth1 -p tcp -m conntrack "
                               "--ctorigdstport 8080 -j DROP",)),
        Variant("fixed-container-port", "DOCKER-USER drops WAN to the container address/port",
                INPUT_RULES + ("iptables -I DOCKER-USER -i eth1 -p tcp -d 172.17.0.0/16 "
                               "--dport 80 -j DROP",)),
        Variant("wrong-port", "DOCKER-USER rule on the host port: never matches after DNAT",
                INPUT_RULES + ("iptables -I DOCKER-USER -i eth1 -p tcp --dport 8080 -j DROP",)),
    ),
)
