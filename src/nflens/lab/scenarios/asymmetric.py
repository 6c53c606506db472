"""A host with two uplinks and a client whose path to it is asymmetric, under rp_filter 0/1/2.

The peer 203.0.113.5 sits behind the LAN router (the LAN client namespace): its packets come
in on eth0. The host routes 203.0.113.0/24 via the WAN router 198.51.100.2, which has a link of
its own to the LAN router ("the network beyond the host", a veth between the two client
namespaces), so the host's answers leave by eth1 and still reach the peer. The peer answers
the host's own connections (and a container's masqueraded ones) by its default route, through
the LAN router: their SYN-ACK arrives on eth0, the interface the host's route does not use.

What the kernel does (net/ipv4/fib_frontend.c fib_validate_source): with rp_filter=0 no
reverse check is made; with 2 (loose) any route back will do; with 1 (strict) the route back
must leave by the input device, so the peer's packets on eth0 are martians, its connections
to the host and to `app`'s published port die, and so do the host's and `app`'s connections
to it (their SYN-ACK is dropped). A snapshot shows none of the network beyond: nflens says
`uncertain` for the peer's connections under 0 and 2, naming that, and takes the routes as the
truth for the host's own connections (saying so in `assumed` where rp_filter=1 makes it matter).
The flows marked `beyond` are those whose kernel outcome hangs on this lab's network beyond the
host (expected.json "beyond", tests/fixtures/lab/README.md says how they are scored).
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

PEER = "203.0.113.5"
PEER_NET = "203.0.113.0/24"
BEYOND = ("the peer's packets come in on eth0 while the host's route to it uses eth1 (the "
          "lab's network beyond the host)")


def build(ctx) -> None:
    """The peer behind the LAN router, the LAN-WAN link beyond the host, the host's route."""
    lab, topo = ctx.lab, ctx.topo
    lan, wan = topo.client_for("eth0"), topo.client_for("eth1")
    peer = lab.add_netns("peer")
    lab.add_veth(peer, "eth0", lan, "p0")
    lab.add_addr(peer, "eth0", f"{PEER}/24")
    lab.add_addr(lan, "p0", "203.0.113.1/24")
    lab.add_route(peer, "0.0.0.0/0", "203.0.113.1")
    lab.add_veth(wan, "b0", lan, "b1")  # the network beyond the host
    lab.add_addr(wan, "b0", "192.0.2.1/30")
    lab.add_addr(lan, "b1", "192.0.2.2/30")
    lab.add_route(wan, PEER_NET, "192.0.2.2")
    for ns in (lan, wan):
        lab.sysctl(ns, "net.ipv4.ip_forward", "1")
    lab.add_route(ctx.host, PEER_NET, "198.51.100.2")
    topo.peers[PEER] = peer
    topo.serve_http(peer, 80, "nflens:peer")
    ctx.server("app", ports={"80/tcp": 8080})  # 172.17.0.2 on docker0


def _rp(value: str) -> tuple[str, ...]:
    return tuple(f"sysctl -qw net.ipv4.conf.{dev}.rp_filter={value}"
                 for dev in ("all", "default", "eth0", "eth1"))


FLOWS = (
    FlowSpec("peer-host", "eth0", "10.99.0.1", 8000, saddr=PEER, beyond=BEYOND),
    FlowSpec("peer-host-wanaddr", "eth0", "198.51.100.1", 8000, saddr=PEER, beyond=BEYOND),
    FlowSpec("peer-app-published", "eth0", "10.99.0.1", 8080, saddr=PEER, beyond=BEYOND),
    FlowSpec("host-peer", "host", PEER, 80, beyond=BEYOND),
    FlowSpec("app-peer", "container:app", PEER, 80, beyond=BEYOND),
    FlowSpec("lan-host", "eth0", "10.99.0.1", 8000),
    FlowSpec("wan-app-published", "eth1", "198.51.100.1", 8080),
    FlowSpec("host-wan", "host", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="asymmetric",
    title="two uplinks, a peer whose packets come in on one while the route to it uses the other",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("rp0", "rp_filter=0 (off)", _rp("0")),
        Variant("rp1", "rp_filter=1 (strict)", _rp("1")),
        Variant("rp2", "rp_filter=2 (loose)", _rp("2")),
    ),
)
