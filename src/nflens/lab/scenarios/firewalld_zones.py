"""firewalld_zones — the real firewalld 1.3 (nftables backend) beside Docker; seed 002's RADIUS.

The story (shared/seeds/002, CentOS 8): a Docker host runs infrastructure services on a user
network `infranet` 172.20.0.0/24 (bridge docker1) with `userland-proxy: false`: a proxy
172.20.0.2 published 8080/tcp and freeRADIUS 172.20.0.4 published 1812/udp. The host's own
firewall is firewalld: the LAN interface in zone `internal`, the WAN in `public` (issue 12
item 4). The RADIUS request is DNATed to the container in nat PREROUTING; its reply is
un-NATed by conntrack and must come back from the host's address (the client's connected UDP
socket accepts nothing else). The packets cross firewalld's own base chains (table inet
firewalld, priorities +10) as well as Docker's iptables-nft chains.

firewalld runs in the host's private mount namespace with its own D-Bus (lab/hostfw.py) and is
up before dockerd, as at boot. A host service on 8000 is allowed in zone internal only.

Variants (the `boot` lines run before dockerd starts):
- zones: eth0 in internal (+8000/tcp), eth1 in public. The published ports are open to the WAN
  all the same: firewalld's forward chain accepts `ct status dnat`.
- rich-rule: a rich rule in public meant to restrict the proxy's 8080 to the office
  (`source address=10.99.0.0/24 port 8080 accept`): it acts on the host's INPUT, and the
  DNATed packets are forwarded, so the WAN still reaches the proxy.
- direct-docker-user: a firewalld direct rule in DOCKER-USER (iptables, through firewalld)
  dropping the WAN by conntrack's original destination port 8080: the proxy is closed to the
  WAN, RADIUS is not.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant

# --permanent, then --reload: dockerd 20.10 creates its `docker` zone and makes firewalld
# reload, which drops every runtime-only change (lab: interfaces fell back to public).
ZONES = (
    "firewall-cmd --permanent --zone=internal --add-interface=eth0",
    "firewall-cmd --permanent --zone=public --add-interface=eth1",
    "firewall-cmd --permanent --zone=internal --add-port=8000/tcp",
)
RELOAD = ("firewall-cmd --reload",)
RICH = ("firewall-cmd --permanent --zone=public --add-rich-rule='rule family=\"ipv4\" source "
        "address=\"10.99.0.0/24\" port port=\"8080\" protocol=\"tcp\" accept'",)
DIRECT = (
    "firewall-cmd --permanent --direct --add-chain ipv4 filter DOCKER-USER",
    "firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER 0 -i eth1 -p tcp "
    "-m conntrack --ctorigdstport 8080 -j DROP",
)


def build(ctx) -> None:
    ctx.network("infranet", "172.20.0.0/24", "172.20.0.1",
                options={"com.docker.network.bridge.name": "docker1"})
    ctx.udp_server("proxy", (), port=8080, network="infranet", ip="172.20.0.2",
                   ports={"8080/tcp": 8080})
    ctx.udp_server("radius", (1812,), port=80, network="infranet", ip="172.20.0.4",
                   ports={"1812/udp": 1812})


FLOWS = (
    FlowSpec("lan-radius", "eth0", "10.99.0.1", 1812, "udp"),
    FlowSpec("wan-radius", "eth1", "198.51.100.1", 1812, "udp"),
    FlowSpec("lan-proxy", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-proxy", "eth1", "198.51.100.1", 8080),
    FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
    FlowSpec("wan-hostsvc", "eth1", "198.51.100.1", 8000),
    FlowSpec("radius-to-host", "container:radius", "172.20.0.1", 8000),
    FlowSpec("proxy-egress", "container:proxy", "198.51.100.2", 80),
    FlowSpec("lan-radius-direct", "eth0", "172.20.0.4", 1812, "udp"),
    FlowSpec("local-radius", "host", "10.99.0.1", 1812, "udp"),
)

NOPROXY = DaemonConfig(userland_proxy=False)

SCENARIO = Scenario(
    name="firewalld_zones",
    title="the real firewalld: zones, a rich rule, a direct rule; seed 002's RADIUS over UDP",
    story=__doc__,
    build=build,
    flows=FLOWS,
    firewall="firewalld",
    variants=(
        Variant("zones", "LAN in internal (+8000/tcp), WAN in public", daemon=NOPROXY,
                boot=ZONES + RELOAD),
        Variant("rich-rule", "a public rich rule meant to keep 8080 for the office",
                daemon=NOPROXY, boot=ZONES + RICH + RELOAD),
        Variant("direct-docker-user", "a firewalld direct rule in DOCKER-USER drops the WAN "
                "by original destination port 8080", daemon=NOPROXY, boot=ZONES + DIRECT + RELOAD),
    ),
)
