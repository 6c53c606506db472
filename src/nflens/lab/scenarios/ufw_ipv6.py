"""ufw_ipv6 — the ufw story over IPv6 too: Docker 28 (ip6tables on by default) publishes web on
both families, and ufw's rules for incoming connections miss both (issue 14).

The admin runs ufw (`ufw default deny incoming`) and admits web's port 8080 from the office
only, in both families: `ufw allow from 10.99.0.0/24 ...` and `ufw allow from 2001:db8:1::/64
...` (ufw puts an IPv6 rule in user6.rules, chains `ufw6-user-*`). Docker 28 writes DNAT and
filter rules in ip6tables as in iptables (FORWARD jumps to DOCKER-USER and DOCKER-FORWARD before
ufw's `ufw6-*` chains), so the WAN reaches web over IPv6 as over IPv4. Docker 20.10 (ip6tables
experimental, off) and 26 (off by default) write no IPv6 rules, so there is no DOCKER-USER in
ip6tables to put a fix in: the scenario runs on 28 only.

Variant broken: the ufw rules above. The LAN is 10.99.0.0/24 and 2001:db8:1::/64 (the office),
the WAN 198.51.100.0/24 and 2001:db8:2::/64.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

BOOT = (
    "ufw default deny incoming",
    "ufw allow from 10.99.0.0/24 to any port 8080 proto tcp",
    "ufw allow from 2001:db8:1::/64 to any port 8080 proto tcp",
    "ufw --force enable",
)


def build(ctx) -> None:
    ctx.network("v6net", "10.66.0.0/24", "10.66.0.1", subnet6="fd00:66::/64",
                gateway6="fd00:66::1")
    ctx.server("web", network="v6net", ip="10.66.0.2", ip6="fd00:66::2",
               ports={"80/tcp": 8080})


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
    FlowSpec("lan-web6", "eth0", "2001:db8:1::1", 8080),
    FlowSpec("wan-web6", "eth1", "2001:db8:2::1", 8080),
    FlowSpec("wan-svc6", "eth1", "2001:db8:2::1", 8000, note="a host service ufw denies"),
)

SCENARIO = Scenario(
    name="ufw_ipv6",
    title="the real ufw over IPv6 (Docker 28): published port open to the WAN in both families",
    story=__doc__,
    build=build,
    flows=FLOWS,
    ipv6=True,
    firewall="ufw",
    dockers=("28",),
    variants=(
        Variant("broken", "ufw default deny incoming, 8080 from the office only (both "
                "families); Docker 28 publishes 8080 on both: open to the WAN",
                boot=BOOT),
    ),
)
