"""The fuzzing world: client A — router R — client B, both IPv4 and IPv6.

    A (eth0: 10.1.0.2, .3; fd01::2, ::3) --- ra [R] rb --- (eth0: 10.2.0.2, .3; fd02::2, ::3) B
                                   10.1.0.1, fd01::1   10.2.0.1, fd02::1

Two addresses per client so that source/destination matches can tell them apart. The clients
listen on every port a flow or a DNAT can lead to (SERVICE_PORTS and CLOSED_PORT, TCP and UDP,
both families): a flow to a client is then denied only by the router's rules, never by a
closed port, which is what the simulator assumes of a peer outside the host. The router
listens on SERVICE_PORTS (and on DEVICE_PORT bound to ra, OWNED_PORT owned by a user), so
CLOSED_PORT exercises the RST / port-unreachable paths of local delivery, which the
simulator reads from ss.txt. IPv6 neighbours are pinned (permanent
entries): neighbour discovery is ICMPv6 through ip6tables INPUT/OUTPUT, which the simulator
does not model yet, and a random INPUT policy of DROP would otherwise cut IPv6 forwarding for
a reason outside the fuzzed grammar.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from nflens import dialect_registry
from nflens.lab.netns import Lab, run_in
from nflens.snapshot.collect import collect

SERVICE_PORTS = (22, 80, 443, 8080, 8443)
CLOSED_PORT = 9999
# the router's special listeners (gen_host sends some flows there): TCP on 0.0.0.0%ra and UDP on
# each router address %ra (SO_BINDTODEVICE: only what arrives on ra reaches it), and TCP/UDP
# owned by OWNER_UID (the socket made with that fsuid: ss -e shows uid:, xt_owner sees it)
DEVICE_PORT, DEVICE = 8081, "ra"
OWNED_PORT, OWNER_UID = 8082, 1000
TPROXY_PORT = 8446  # a transparent (IP_TRANSPARENT) TCP listener on 0.0.0.0 (gen_host.tproxy)
PROTOS = ("tcp", "udp")

# role -> interface -> addresses (first address of each family is the primary one)
ADDRS: dict[str, dict[str, tuple[str, ...]]] = {
    "a": {"eth0": ("10.1.0.2/24", "10.1.0.3/24", "fd01::2/64", "fd01::3/64")},
    "r": {"ra": ("10.1.0.1/24", "fd01::1/64"), "rb": ("10.2.0.1/24", "fd02::1/64")},
    "b": {"eth0": ("10.2.0.2/24", "10.2.0.3/24", "fd02::2/64", "fd02::3/64")},
}
GATEWAYS = {"a": ("10.1.0.1", "fd01::1"), "b": ("10.2.0.1", "fd02::1")}
ROUTER_IFACE = {"a": "ra", "b": "rb"}  # the router interface a client's packets arrive on


def listening_ports(role: str) -> tuple[int, ...]:
    """The plain listeners of `role`. The clients listen on the router's special ports too: a
    DNAT of a flow sent there leads to a client, which must answer as a peer outside would."""
    if role == "r":
        return SERVICE_PORTS
    return SERVICE_PORTS + (CLOSED_PORT, DEVICE_PORT, OWNED_PORT)


def addresses(role: str, version: int) -> list[str]:
    out = []
    for cidrs in ADDRS[role].values():
        out += [c.split("/")[0] for c in cidrs if ipaddress.ip_interface(c).version == version]
    return out


def subnet(side: str, version: int) -> str:
    return {("a", 4): "10.1.0.0/24", ("b", 4): "10.2.0.0/24",
            ("a", 6): "fd01::/64", ("b", 6): "fd02::/64"}[(side, version)]


@dataclass
class World:
    """The namespaces of one fuzzing run, by role."""

    lab: Lab
    ns: dict[str, str]
    static: Path  # snapshot files that do not change between cases
    routed: bool = False  # the router holds a case's policy routing (gen_routing) to undo
    peered: bool = False  # B holds a case's second address (gen_host.second_subnet) to undo

    def ns_of(self, role: str) -> str:
        return self.ns[role]


def build(lab: Lab, static_dir: Path) -> World:
    """Create the three namespaces, links, addresses, routes and pinned neighbours."""
    ns = {role: lab.add_netns(role) for role in ("a", "r", "b")}
    lab.add_veth(ns["a"], "eth0", ns["r"], "ra")
    lab.add_veth(ns["b"], "eth0", ns["r"], "rb")
    for role, ifaces in ADDRS.items():
        for ifname, cidrs in ifaces.items():
            for cidr in cidrs:
                lab.add_addr(ns[role], ifname, cidr)
    for role, (gw4, gw6) in GATEWAYS.items():
        lab.add_route(ns[role], "0.0.0.0/0", gw4)
        lab.add_route(ns[role], "::/0", gw6)
    lab.sysctl(ns["r"], "net.ipv4.ip_forward", "1")
    lab.sysctl(ns["r"], "net.ipv6.conf.all.forwarding", "1")
    quiet_icmp(lab, ns["r"])
    _pin_ipv6_neighbours(ns)
    world = World(lab, ns, static_dir)
    return world


# the default ratemasks without destination-unreachable (IPv4 type 3, IPv6 type 1)
QUIET_RATEMASK = {"net.ipv4.icmp_ratemask": str(6168 & ~(1 << 3)),
                  "net.ipv6.icmp.ratemask": "0,3-127"}


def quiet_icmp(lab: Lab, ns: str) -> None:
    """The router's REJECT errors exempt from the ICMP rate limit. The simulator answers as a
    quiet host would (its per-destination buckets full: kernel/icmplimit.py); the fuzz
    router sends the same peers errors case after case, and from the seventh in a burst the
    kernel suppressed them — a refused handshake ACK then let the connection stand (fuzz
    case 20261207-2122). The sysctls are in the snapshot, so nflens sees the exemption."""
    for key, value in QUIET_RATEMASK.items():
        lab.sysctl(ns, key, value)


def _mac(ns: str, ifname: str) -> str:
    import json

    out = run_in(ns, ["ip", "-j", "link", "show", "dev", ifname]).stdout
    return json.loads(out)[0]["address"]


def _pin_ipv6_neighbours(ns: dict[str, str]) -> None:
    macs = {("a", "eth0"): _mac(ns["a"], "eth0"), ("b", "eth0"): _mac(ns["b"], "eth0"),
            ("r", "ra"): _mac(ns["r"], "ra"), ("r", "rb"): _mac(ns["r"], "rb")}
    for side in ("a", "b"):
        rif = ROUTER_IFACE[side]
        for addr in addresses(side, 6):
            run_in(ns["r"], ["ip", "-6", "neigh", "replace", addr, "lladdr", macs[(side, "eth0")],
                             "dev", rif, "nud", "permanent"])
        gw6 = GATEWAYS[side][1]
        run_in(ns[side], ["ip", "-6", "neigh", "replace", gw6, "lladdr", macs[("r", rif)],
                          "dev", "eth0", "nud", "permanent"])


def collect_static(world: World) -> None:
    """Everything but the rules, once, after the listeners are up (ss.txt shows them)."""
    collect(world.static, netns=world.ns["r"])
    for name, _argv in dialect_registry.collected():
        (world.static / name).unlink(missing_ok=True)
