"""seed004 — a DOCKER-USER rule on the host port never matches, and the nat DOCKER-FILTER trick.

The story (shared/seeds/004): tomcat is published `-p 80:8080` (host 80 -> container 8080).
INPUT allows 80 only from the office network and REJECTs the rest — no effect, the port is
forwarded. `iptables -I DOCKER-USER -p tcp --dport 80 -j DROP` then changes nothing either: by
FORWARD the packet was DNATed to 172.17.0.2:8080. The author next diverts nat PREROUTING into a
`DOCKER-FILTER` chain (LOCAL destinations: DOCKER-FILTER, then RETURN) that jumps to DOCKER only
for allowed sources — and in production it still leaks: the packet that is *not* DNATed is
delivered locally, where docker-proxy listens on 0.0.0.0:80 and forwards it to the container.

Here the "office" is the LAN 10.99.0.0/24 and the outside is the WAN client.

Variants:
- broken: INPUT rules plus `DOCKER-USER --dport 80 -j DROP` (dead rule).
- fixed-naive: `DOCKER-USER ! -s 10.99.0.0/24 -p tcp -m conntrack --ctorigdstport 80 -j DROP`.
  The kernel says: the LAN loses the port too. `--ctorigdstport` describes the *connection*, so
  it also matches the reply packets, whose source (172.17.0.2) is not in the LAN.
- fixed: the same with `--ctdir ORIGINAL`, so replies pass.
- With userland-proxy=false, dockerd itself holds the host port with a listening socket (`ss`
  shows `dockerd` on 0.0.0.0:80): an un-DNATed connection completes its handshake there and
  then never gets a byte. It also sets route_localnet=1 on docker0 and DNATs 127.0.0.1:80 in
  nat OUTPUT, so host-local connections work without a proxy.
- nat-filter: the DOCKER-FILTER trick with userland-proxy on and INPUT open: WAN still gets in
  through docker-proxy.
- nat-filter-input: the write-up's final fix: the trick plus INPUT REJECT for tcp/80.
- nat-filter-noproxy: the trick with userland-proxy=false: nothing relays the un-DNATed packet.
"""

from __future__ import annotations

from nflens.lab.dockerd import DaemonConfig
from nflens.lab.scenarios import FlowSpec, Scenario, Variant

INPUT_RULES = (
    "iptables -A INPUT -s 10.99.0.0/24 -p tcp -m tcp --dport 80 -j ACCEPT",
    "iptables -A INPUT -j REJECT --reject-with icmp-host-prohibited",
)
NAT_FILTER = (
    "iptables -t nat -N DOCKER-FILTER",
    "iptables -t nat -I PREROUTING -m addrtype --dst-type LOCAL -j RETURN",
    "iptables -t nat -I PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-FILTER",
    "iptables -t nat -A DOCKER-FILTER -s 10.99.0.0/24 -p tcp -m tcp --dport 80 "
    "-m state --state NEW,ESTABLISHED -j DOCKER",
)


def build(ctx) -> None:
    ctx.server("tomcat", port=8080, ports={"8080/tcp": 80})


FLOWS = (
    FlowSpec("lan-tomcat", "eth0", "10.99.0.1", 80),
    FlowSpec("wan-tomcat", "eth1", "198.51.100.1", 80),
    FlowSpec("local-tomcat", "host", "127.0.0.1", 80),
    FlowSpec("host-tomcat-lanaddr", "host", "10.99.0.1", 80),
    FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
    FlowSpec("tomcat-egress", "container:tomcat", "198.51.100.2", 80),
)

NOPROXY = DaemonConfig(userland_proxy=False)

SCENARIO = Scenario(
    name="seed004_dnat_port",
    title="DOCKER-USER on the host port never matches; DOCKER-FILTER vs docker-proxy",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("broken", "INPUT restricted, DOCKER-USER drops --dport 80 (after DNAT: 8080)",
                INPUT_RULES + ("iptables -I DOCKER-USER -p tcp -m tcp --dport 80 -j DROP",)),
        Variant("fixed-naive", "DOCKER-USER drops non-LAN sources by original destination "
                "port -- and so also the container's replies (their source is the container)",
                INPUT_RULES + ("iptables -I DOCKER-USER ! -s 10.99.0.0/24 -p tcp -m conntrack "
                               "--ctorigdstport 80 -j DROP",)),
        Variant("fixed", "as fixed-naive, limited to the original direction (--ctdir ORIGINAL)",
                INPUT_RULES + ("iptables -I DOCKER-USER ! -s 10.99.0.0/24 -p tcp -m conntrack "
                               "--ctorigdstport 80 --ctdir ORIGINAL -j DROP",)),
        Variant("nat-filter", "nat DOCKER-FILTER trick, userland-proxy on, INPUT open",
                NAT_FILTER),
        Variant("nat-filter-input", "nat DOCKER-FILTER trick plus INPUT REJECT of tcp/80",
                NAT_FILTER + ("iptables -A INPUT -p tcp -m tcp --dport 80 -j REJECT",)),
        Variant("nat-filter-noproxy", "nat DOCKER-FILTER trick with userland-proxy=false",
                NAT_FILTER, NOPROXY),
    ),
)
