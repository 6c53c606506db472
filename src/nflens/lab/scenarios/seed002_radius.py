"""seed002_radius — seed 002 on its own networks: RADIUS, syslog, DHCP and a proxy behind firewalld.

The story (shared/seeds/002, CentOS 8, firewalld, `userland-proxy: false`): the Docker host
10.254.10.252 runs infrastructure services on the user network `infraserv_infranet`
172.20.0.0/24 (bridge docker1): proxy 172.20.0.2 8080/tcp, syslog 172.20.0.3 514/udp, radius
172.20.0.4 1812/udp, dhcp 172.20.0.5 67/udp, all published on every address. Its policy
(examples/policies/seed002-radius.yaml) says: RADIUS from the NAS network 10.254.10.0/24 only;
syslog, DHCP and the proxy from the LAN 10.254.0.0/16; nothing from anywhere else.

The lab host has the seed's addressing (topology.plans): eth0 10.254.10.252/24 with the LAN
client a NAS at 10.254.10.105, which also sends from 10.254.20.5 (a LAN subnet outside the NAS
network, behind it as behind a LAN router) to tell "nas" from "lan"; the WAN stays
198.51.100.0/24 on eth1. firewalld 1.3 is the host firewall (lab/hostfw.py), started before
dockerd: eth0 in zone internal (+ a host service on 8000/tcp), eth1 in public.

Variants:
- broken: the seed's state. Every published port is reachable from the WAN too: firewalld's
  forward chain accepts `ct status dnat`, and Docker's own chains accept the DNATed packets.
- fixed: what an administrator writes by hand to get exactly the policy: firewalld direct rules
  in DOCKER-USER (iptables, made by firewalld, present before dockerd starts) that let replies
  and the containers' own traffic pass, accept each service from its sources by conntrack's
  original destination port, and drop everything else forwarded to docker1. The kernel's
  outcomes of this variant are what `nflens policy plan` of the seed's policy must reproduce.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant
from nflens.lab.scenarios.firewalld_zones import RELOAD, ZONES

HOST = "10.254.10.252"
NAS = "10.254.10.105"  # the seed's own RADIUS client (the write-up's 10.254.10.105)
LAN_OTHER = "10.254.20.5"  # inside the LAN 10.254.0.0/16, outside the NAS network
ADDRESSING = {"lan": {"host": f"{HOST}/24", "client": f"{NAS}/24",
                      "extra": (f"{LAN_OTHER}/24",)}}

_USER = "firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER"
FIX = (
    "firewall-cmd --permanent --direct --add-chain ipv4 filter DOCKER-USER",
    f"{_USER} 0 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
    f"{_USER} 1 -i docker1 -j RETURN",
    f"{_USER} 2 -s 10.254.10.0/24 -p udp -m conntrack --ctorigdstport 1812 -j RETURN",
    f"{_USER} 3 -s 10.254.0.0/16 -p udp -m conntrack --ctorigdstport 514 -j RETURN",
    f"{_USER} 4 -s 10.254.0.0/16 -p udp -m conntrack --ctorigdstport 67 -j RETURN",
    f"{_USER} 5 -s 10.254.0.0/16 -p tcp -m conntrack --ctorigdstport 8080 -j RETURN",
    f"{_USER} 6 -o docker1 -j DROP",
)


def build(ctx) -> None:
    ctx.network("infraserv_infranet", "172.20.0.0/24", "172.20.0.1",
                options={"com.docker.network.bridge.name": "docker1"})
    ctx.udp_server("proxy", (), port=8080, network="infraserv_infranet", ip="172.20.0.2",
                   ports={"8080/tcp": 8080})
    for name, ip, port in (("syslog", "172.20.0.3", 514), ("radius", "172.20.0.4", 1812),
                           ("dhcp", "172.20.0.5", 67)):
        ctx.udp_server(name, (port,), port=80, network="infraserv_infranet", ip=ip,
                       ports={f"{port}/udp": port})


FLOWS = (
    FlowSpec("nas-radius", "eth0", HOST, 1812, "udp"),
    FlowSpec("lan-radius", "eth0", HOST, 1812, "udp", saddr=LAN_OTHER,
             note="the LAN outside the NAS network: the policy says no"),
    FlowSpec("wan-radius", "eth1", "198.51.100.1", 1812, "udp"),
    FlowSpec("nas-syslog", "eth0", HOST, 514, "udp"),
    FlowSpec("lan-syslog", "eth0", HOST, 514, "udp", saddr=LAN_OTHER),
    FlowSpec("wan-syslog", "eth1", "198.51.100.1", 514, "udp"),
    FlowSpec("lan-dhcp", "eth0", HOST, 67, "udp", saddr=LAN_OTHER),
    FlowSpec("wan-dhcp", "eth1", "198.51.100.1", 67, "udp"),
    FlowSpec("nas-proxy", "eth0", HOST, 8080),
    FlowSpec("wan-proxy", "eth1", "198.51.100.1", 8080),
    FlowSpec("lan-hostsvc", "eth0", HOST, 8000),
    FlowSpec("wan-hostsvc", "eth1", "198.51.100.1", 8000),
    FlowSpec("radius-to-host", "container:radius", "172.20.0.1", 8000),
    FlowSpec("proxy-egress", "container:proxy", "198.51.100.2", 80),
    FlowSpec("nas-radius-direct", "eth0", "172.20.0.4", 1812, "udp",
             note="straight to the container's address: firewalld's zones refuse it"),
    FlowSpec("local-radius", "host", HOST, 1812, "udp"),
)

NOPROXY = DaemonConfig(userland_proxy=False)

SCENARIO = Scenario(
    name="seed002_radius",
    title="seed 002 on its own networks: UDP services behind firewalld, RADIUS for the NAS only",
    story=__doc__,
    build=build,
    flows=FLOWS,
    firewall="firewalld",
    addressing=ADDRESSING,
    variants=(
        Variant("broken", "the seed's state: every published port open, from the WAN too",
                daemon=NOPROXY, boot=ZONES + RELOAD),
        Variant("fixed", "firewalld direct rules in DOCKER-USER: RADIUS from the NAS net, "
                "syslog/DHCP/proxy from the LAN, nothing else", daemon=NOPROXY,
                boot=ZONES + FIX + RELOAD),
    ),
)
