"""seed000 — ICTSC 2020 "web2": a DOCKER-USER allow-list plus ebtables ARP drops.

The story (shared/seeds/000): a VM runs web1 (nginx on network my-net 10.213.213.0/24, fixed
address .213, `-p 80:80`). A second container web2 (`docker run -d -p 8080:80 --name web2`, so on
the *default* bridge docker0, 172.17.0.2) is unreachable. /opt/secure_firewall.sh, run at boot by
a systemd unit after docker.service, inserts a DOCKER-USER allow-list (only the host's my-net
address and web1:80, then RELATED,ESTABLISHED, then DROP) and ebtables rules that accept ARP only
between 10.213.213.1 and 10.213.213.213 and drop every other ARP frame in the bridge INPUT and
OUTPUT chains.

Kernel facts this scenario pins down:
- Fixing DOCKER-USER alone is not enough: the host never resolves 172.17.0.2's MAC, because
  its ARP request leaves through the bridge OUTPUT chain (ebtables `-p ARP -j DROP`), so the
  DNATed packet to web2 dies in neighbour resolution — outside netfilter's IP hooks entirely.
- The same ARP drop breaks docker-proxy for `127.0.0.1:8080` (the proxy's own connection to
  172.17.0.2 needs ARP too) and web2's connections to the host (web2's ARP request for
  172.17.0.1 enters the bridge INPUT chain and is dropped).
- `-i eth0 -j ACCEPT` in the bridge INPUT chain is dead: eth0 is not a bridge port.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

SECURE_FIREWALL = (
    "iptables -I DOCKER-USER 1 -j DROP",
    "iptables -I DOCKER-USER 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    "iptables -I DOCKER-USER 1 -p tcp --dport 80 -d 10.213.213.213 -j ACCEPT",
    "iptables -I DOCKER-USER 1 -d 10.213.213.1 -j ACCEPT",
    "ebtables -A INPUT -i eth0 -j ACCEPT",
    "ebtables -A INPUT -p ARP --arp-ip-src 10.213.213.213 --arp-ip-dst 10.213.213.1 -j ACCEPT",
    "ebtables -A INPUT -p ARP --arp-ip-src 10.213.213.1 --arp-ip-dst 10.213.213.213 -j ACCEPT",
    "ebtables -A INPUT -p ARP -j DROP",
    "ebtables -A OUTPUT -o eth0 -j ACCEPT",
    "ebtables -A OUTPUT -p ARP --arp-ip-src 10.213.213.213 --arp-ip-dst 10.213.213.1 -j ACCEPT",
    "ebtables -A OUTPUT -p ARP --arp-ip-src 10.213.213.1 --arp-ip-dst 10.213.213.213 -j ACCEPT",
    "ebtables -A OUTPUT -p ARP -j DROP",
)


def build(ctx) -> None:
    ctx.network("my-net", "10.213.213.0/24", "10.213.213.1")
    ctx.server("web1", network="my-net", ip="10.213.213.213", ports={"80/tcp": 80})
    ctx.server("web2", ports={"80/tcp": 8080})  # default bridge: 172.17.0.2


FLOWS = (
    FlowSpec("lan-web1", "eth0", "10.99.0.1", 80),
    FlowSpec("lan-web2", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web1", "eth1", "198.51.100.1", 80),
    FlowSpec("wan-web2", "eth1", "198.51.100.1", 8080),
    FlowSpec("local-web1", "host", "127.0.0.1", 80, note="docker-proxy to 10.213.213.213"),
    FlowSpec("local-web2", "host", "127.0.0.1", 8080, note="docker-proxy needs ARP for web2"),
    FlowSpec("host-web2-direct", "host", "172.17.0.2", 80),
    FlowSpec("web1-to-host", "container:web1", "10.213.213.1", 8000),
    FlowSpec("web2-to-host", "container:web2", "172.17.0.1", 8000),
    FlowSpec("web1-egress", "container:web1", "198.51.100.2", 80),
    FlowSpec("web2-egress", "container:web2", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="seed000_web2",
    title="ICTSC web2: DOCKER-USER allow-list and ebtables ARP drops",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("broken", "secure_firewall.sh as shipped", SECURE_FIREWALL),
        Variant("docker-user-fixed-only", "DOCKER-USER opened (`-I DOCKER-USER 1 -j ACCEPT`); "
                "the ebtables ARP drops still cut web2 off",
                SECURE_FIREWALL + ("iptables -I DOCKER-USER 1 -j ACCEPT",)),
        Variant("fixed", "the write-up's fix: DOCKER-USER opened and `ebtables -F`",
                SECURE_FIREWALL + ("iptables -I DOCKER-USER 1 -j ACCEPT", "ebtables -F")),
        Variant("fixed-minimal", "allow-list kept: web2:80 allowed in DOCKER-USER, ARP between "
                "docker0 and web2 allowed in both bridge chains",
                SECURE_FIREWALL + (
                    "iptables -I DOCKER-USER 1 -p tcp --dport 80 -d 172.17.0.2 -j ACCEPT",
                    "ebtables -I INPUT 1 -p ARP --arp-ip-src 172.17.0.2 --arp-ip-dst 172.17.0.1"
                    " -j ACCEPT",
                    "ebtables -I OUTPUT 1 -p ARP --arp-ip-src 172.17.0.1 --arp-ip-dst 172.17.0.2"
                    " -j ACCEPT")),
    ),
)
