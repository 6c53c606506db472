"""Derived, indexed views of an `ir.Host` that the kernel model consults on every packet.

Implements `kernel.context.HostEnv` (address types, FIB, sets, interfaces) and adds what the
packet walk needs: which addresses are local, which bridge a container sits behind and through
which port, which sockets listen. Built once per host; pure (reads only the IR).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal, overload

from nflens.ir.host import Container, ContainerEndpoint, Host, Network, Route, Socket, shared
from nflens.kernel.routing import NO_KEYS, Decide, Fib, FlowKeys, RouteResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK4 = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class Attachment:
    """A container's presence on one bridge: the container, its endpoint, network, bridge, port."""

    container: Container
    endpoint: ContainerEndpoint
    network: Network | None
    bridge: str | None
    port: str  # the host-side veth (bridge port); synthetic when the snapshot cannot tell

    @overload
    def addr(self, version: Literal[4]) -> ipaddress.IPv4Address | None: ...
    @overload
    def addr(self, version: int) -> IPAddress | None: ...

    def addr(self, version: int) -> IPAddress | None:
        iface = self.endpoint.ipv4 if version == 4 else self.endpoint.ipv6
        return iface.ip if iface else None

    def gateway(self, version: int) -> IPAddress | None:
        return self.endpoint.gateway4 if version == 4 else self.endpoint.gateway6


class HostModel:
    """The kernel model's view of one host."""

    def __init__(self, host: Host):
        self.host = host
        self.assumptions: list[str] = list(host.assumptions)
        # everything but the ruleset: shared by the host copies an audit makes per fix
        self.routes, derived, self.fib, self.local, self.attachments, self.by_addr = shared(
            "hostmodel", (host.interfaces, host.routes, host.policy_rules, host.docker),
            self._links)
        self.assumptions += derived
        self.sets: dict[tuple[str, str, str], tuple[Any, ...]] = {
            (t.family, t.name, s.name): s.elements for t in host.ruleset.tables for s in t.sets
        }

    def _links(self) -> tuple[tuple[Route, ...], tuple[str, ...], Fib, dict[IPAddress, str],
                              list[Attachment], dict[IPAddress, Attachment]]:
        host = self.host
        notes: list[str] = []
        routes = host.routes or self._derived_routes(notes)
        fib = Fib(routes, host.policy_rules)
        local: dict[IPAddress, str] = {}
        for iface in host.interfaces:
            for a in iface.addresses:
                local.setdefault(a.ip, iface.name)
        attachments = self._attachments()
        by_addr: dict[IPAddress, Attachment] = {}
        for att in attachments:
            for v in (4, 6):
                ip = att.addr(v)
                if ip is not None:
                    by_addr[ip] = att
        return routes, tuple(notes), fib, local, attachments, by_addr

    @property
    def custom_routing(self) -> bool:
        """fib4_has_custom_rules || fib_has_custom_local_routes: a policy rule beyond the three
        the kernel starts with, or a `local` route added by hand (the kernel's own have
        protocol kernel). With either, fib_validate_source does its reverse lookup even with
        rp_filter=0. (A rule added and deleted again leaves the kernel's flag set: the
        snapshot cannot show that.)"""
        defaults = {(0, "local"), (32766, "main"), (32767, "default")}
        rules = [r for r in self.host.policy_rules if r.family == 4]
        if any(r.selective or r.action != "lookup" or (r.priority, r.table) not in defaults
               for r in rules):
            return True
        return any(r.type == "local" and r.dst.version == 4 and r.protocol not in (None, "kernel")
                   for r in self.routes)

    def route_devices(self, res: RouteResult) -> set[str | None]:
        """The devices a route's next hops use (fib_info_nh_uses_dev: all of a multipath
        route's)."""
        out: set[str | None] = {res.oif}
        if res.route is not None:
            out.update(res.route.nexthop_devs)
        return out

    # --- sysctls -------------------------------------------------------------------------
    def sysctl_bool(self, key: str, default: bool) -> bool:
        value = self.host.sysctl(key)
        if value is None:
            return default
        return value.strip() not in ("0", "")

    def ip_forward(self, version: int) -> bool:
        if version == 4:
            return self.sysctl_bool("net.ipv4.ip_forward", True)
        return self.sysctl_bool("net.ipv6.conf.all.forwarding", True)

    def bridge_nf(self, version: int) -> bool:
        key = ("net.bridge.bridge-nf-call-iptables" if version == 4
               else "net.bridge.bridge-nf-call-ip6tables")
        return self.sysctl_bool(key, True)

    def route_localnet(self, iface: str | None) -> bool:
        keys = ["net.ipv4.conf.all.route_localnet"]
        if iface:
            keys.append(f"net.ipv4.conf.{iface}.route_localnet")
        return any(self.sysctl_bool(k, False) for k in keys)

    def conf_max(self, name: str, iface: str | None) -> int:
        """net.ipv4.conf.{all,IFACE}.NAME combined as the kernel does for rp_filter and
        accept_local (IN_DEV_MAXCONF / IN_DEV_ORCONF: the larger value wins)."""
        values = [self.host.sysctl(f"net.ipv4.conf.all.{name}")]
        if iface:
            values.append(self.host.sysctl(f"net.ipv4.conf.{iface}.{name}"))
        nums = [int(v) for v in values if v is not None and v.strip().isdigit()]
        return max(nums, default=0)

    # --- HostEnv -------------------------------------------------------------------------
    def addr_type(self, addr: IPAddress, iface: str | None = None) -> str:
        """rtn_type of addr as xt_addrtype/nft fib see it (net/netfilter/xt_addrtype.c)."""
        if addr.is_multicast:
            return "MULTICAST"
        if iface is not None:
            # --limit-iface-*: a lookup restricted to that device's addresses
            owner = self.local.get(addr)
            if owner == iface or (iface == "lo" and addr.is_loopback):
                return "LOCAL"
        res = self.fib.lookup(addr)
        if iface is None and (addr in self.local or res.type == "local"):
            return "LOCAL"
        if addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255"):
            return "BROADCAST"
        if res.type == "broadcast":
            return "BROADCAST"
        if res.type in ("blackhole", "unreachable", "prohibit"):
            return res.type.upper()
        if res.type == "local" and iface is not None:
            return "UNICAST"
        return "UNICAST"

    def route_oif(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
                  mark: int = 0, proto: int = 0, via: str | None = None) -> str | None:
        res = self.fib.lookup(dst, src, iif, mark=mark, keys=FlowKeys(proto))
        if res.type == "local":
            out = "lo" if dst.is_loopback else (self.local.get(dst) or "lo")
            return out if via is None or via == out else None
        if via is not None:
            return via if res.type == "unicast" and via in self.route_devices(res) else None
        return res.oif

    def set_elements(self, family: str, table: str, name: str) -> tuple[Any, ...] | None:
        return self.sets.get((family, table, name))

    def interface_kind(self, name: str) -> str | None:
        iface = self.host.interface(name)
        return iface.kind if iface else None

    def interface_index(self, name: str) -> int | None:
        iface = self.host.interface(name)
        return iface.index if iface else None

    def interface_group(self, name: str) -> int:
        return 0

    # --- what the packet walk needs ------------------------------------------------------
    def is_local(self, addr: IPAddress) -> bool:
        if addr in self.local:
            return True
        return self.fib.lookup(addr).type == "local"

    def route(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
              mark: int = 0, keys: FlowKeys = NO_KEYS, decide: Decide | None = None,
              oif: str | None = None) -> RouteResult:
        return self.fib.lookup(dst, src, iif, oif, mark, keys, decide)

    def bridge_of(self, iface: str) -> str | None:
        i = self.host.interface(iface)
        return i.master if i else None

    def is_bridge(self, iface: str | None) -> bool:
        if iface is None:
            return False
        i = self.host.interface(iface)
        if i is not None:
            return i.kind == "bridge"
        return any(n.bridge == iface for n in self.host.docker.networks)

    def sockets_for(self, proto: str, addr: IPAddress, port: int,
                    iif: str | None = None) -> list[Socket]:
        """Listening sockets that accept proto to addr:port (wildcards and dual-stack
        included). With `iif` (the device the packet came in on, lo for the host's own),
        a socket bound to another device (`0.0.0.0%eth0`, SO_BINDTODEVICE) does not take it
        (compute_score: inet_sk_bound_dev_eq fails)."""
        found = []
        by_port = shared("sockets by port", (self.host.sockets,), self._sockets_by_port)
        for s in by_port.get((proto, port), ()):
            if iif is not None and s.iface is not None and s.iface != iif:
                continue
            if (s.addr == addr
                    or s.addr.is_unspecified and s.addr.version == addr.version
                    or s.dual_stack and addr.version == 4 and s.addr.is_unspecified):
                found.append(s)
        # the most specific bind wins (inet_lookup_listener tries the exact address first;
        # among equals a socket bound to the device scores higher)
        found.sort(key=lambda s: (s.addr.is_unspecified, s.iface is None))
        return found

    def _sockets_by_port(self) -> dict[tuple[str, int], list[Socket]]:
        """A socket per published port and family (docker-proxy): asked per packet delivered."""
        out: dict[tuple[str, int], list[Socket]] = {}
        for s in self.host.sockets:
            out.setdefault((s.proto, s.port), []).append(s)  # dump order kept
        return out

    # --- construction --------------------------------------------------------------------
    def _derived_routes(self, notes: list[str]) -> tuple[Route, ...]:
        """Without ip-route.json: connected and local routes from the interface addresses."""
        routes = []
        for iface in self.host.interfaces:
            for a in iface.addresses:
                routes.append(Route(a.network, "unicast", "main", iface.name, prefsrc=a.ip))
                routes.append(Route(ipaddress.ip_network(a.ip), "local", "local", iface.name))
        routes.append(Route(LOOPBACK4, "local", "local", "lo"))
        routes.append(Route(ipaddress.ip_network("::1/128"), "local", "local", "lo"))
        for net in self.host.docker.networks:
            for gw in net.gateways:
                routes.append(Route(ipaddress.ip_network(gw), "local", "local", net.bridge))
            for subnet in net.subnets:
                routes.append(Route(subnet, "unicast", "main", net.bridge))
        if self.host.interfaces or self.host.docker.networks:
            notes.append("no ip-route.json: routes derived from interface addresses")
        return tuple(routes)

    def _attachments(self) -> list[Attachment]:
        """Map every running container endpoint to its bridge and host-side veth port.

        The snapshot does not say which veth belongs to which container (the peer's ifindex
        lives in the container's namespace), so ports are paired with endpoints in order; a
        rule that names a specific veth (physdev) is the only thing this can affect.
        """
        out = []
        free_ports: dict[str, list[str]] = {}
        for iface in self.host.interfaces:
            if iface.master and iface.kind == "veth":
                free_ports.setdefault(iface.master, []).append(iface.name)
        for c in self.host.docker.containers:
            if not c.running:
                continue
            for ep in c.endpoints:
                net = self.host.docker.network(ep.network)
                bridge = net.bridge if net else None
                ports = free_ports.get(bridge or "", [])
                port = ports.pop(0) if ports else f"veth-{c.name.lstrip('/')}"
                out.append(Attachment(c, ep, net, bridge, port))
        return out
