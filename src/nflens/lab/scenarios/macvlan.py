"""A container on a Docker macvlan network (bridge mode, parent = the LAN interface eth0).

Pi-hole and Home Assistant are put on macvlan to get a LAN address of their own. The container's
macvlan interface sits on eth0 at layer 2 (drivers/net/macvlan.c: macvlan_handle_frame is eth0's
rx_handler and hands a frame for the child's MAC to the child before the host's IP stack sees
it), so the LAN reaches it without crossing any host chain: INPUT, FORWARD and DOCKER-USER do not
apply. The host itself cannot reach it: what eth0 transmits goes to the wire, never back up into
its macvlan children (bridge mode connects children with each other, not with the parent). The
admin's usual workaround is a macvlan "shim" on the host (same parent, bridge mode, a route to
the container through it): the host, and everything it routes, then reaches the container
through the shim, and through the host's chains.

`app` on the default bridge shows what the host's own containers see. The variants:
`noshim` (none), `shim` (mvshim 10.99.0.254/32, route 10.99.0.48/29 via it) and
`shim-docker-user` (the shim plus DOCKER-USER and INPUT drops for the container's address: the
LAN is still not filtered, what crosses the shim is).
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

SHIM = ("ip link add mvshim link eth0 type macvlan mode bridge",
        "ip addr add 10.99.0.254/32 dev mvshim",
        "ip link set mvshim up",
        "ip route add 10.99.0.48/29 dev mvshim")


def build(ctx) -> None:
    import docker.types

    pool = docker.types.IPAMPool(subnet="10.99.0.0/24", gateway="10.99.0.1",
                                 iprange="10.99.0.48/29")
    ctx.docker.client.networks.create("lan", driver="macvlan", options={"parent": "eth0"},
                                      ipam=docker.types.IPAMConfig(pool_configs=[pool]))
    ctx.server("pihole", network="lan", ip="10.99.0.50")
    ctx.server("app", ports={"80/tcp": 8080})  # 172.17.0.2 on docker0


FLOWS = (
    FlowSpec("lan-pihole", "eth0", "10.99.0.50", 80),
    FlowSpec("wan-pihole", "eth1", "10.99.0.50", 80),
    FlowSpec("host-pihole", "host", "10.99.0.50", 80),
    FlowSpec("app-pihole", "container:app", "10.99.0.50", 80),
    FlowSpec("pihole-lan", "container:pihole", "10.99.0.2", 80),
    FlowSpec("pihole-host", "container:pihole", "10.99.0.1", 8000),
    FlowSpec("pihole-wan", "container:pihole", "198.51.100.2", 80),
    FlowSpec("pihole-app-published", "container:pihole", "10.99.0.1", 8080),
    FlowSpec("lan-app-published", "eth0", "10.99.0.1", 8080),
)

SCENARIO = Scenario(
    name="macvlan",
    title="macvlan container beside the host's firewall, with and without a shim",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("noshim", "macvlan network on eth0, nothing else"),
        Variant("shim", "a macvlan shim on the host with a route to the container", SHIM),
        Variant("shim-docker-user", "the shim, and DOCKER-USER/INPUT drops for the container",
                SHIM + ("iptables -I DOCKER-USER -d 10.99.0.48/29 -j DROP",
                        "iptables -I INPUT -s 10.99.0.48/29 -j DROP")),
    ),
)
