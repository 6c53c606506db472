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
from nflens.ir.ipset import IpSet
from nflens.kernel.context import Unknown
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
    lower: str | None = None  # macvlan/ipvlan: the host device it sits on (kernel/lowerdev.py)
    mode: str | None = None  # macvlan/ipvlan mode (bridge, vepa, private, passthru; l2, l3, l3s)

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
            "hostmodel", (host.interfaces, host.routes, host.policy_rules, host.runtimes,
                          host.sysctls), self._links)
        self.assumptions += derived
        self.sets: dict[tuple[str, str, str], tuple[Any, ...]] = {
            (t.family, t.name, s.name): s.elements for t in host.ruleset.tables for s in t.sets
        }

    def _links(self) -> tuple[tuple[Route, ...], tuple[str, ...], Fib, dict[IPAddress, str],
                              list[Attachment], dict[IPAddress, Attachment]]:
        host = self.host
        notes: list[str] = []
        routes = host.routes or self._derived_routes(notes)
        fib = Fib(routes, host.policy_rules, self._ignore_linkdown(routes))
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

    def _ignore_linkdown(self, routes: tuple[Route, ...]) -> frozenset[tuple[int, str]]:
        """(family, device) of the linkdown next hops the FIB skips: IPv4 asks
        ip_ignore_linkdown, IN_DEV_ORCONF of net.ipv4.conf.{all,DEV} (include/linux/
        inetdevice.h); IPv6 ip6_ignore_linkdown, the device's own net.ipv6.conf.DEV value
        (writing `all` copies itself to every device, addrconf_fixup_linkdown)."""
        out = set()
        for r in routes:
            for dev in r.linkdown:
                v = r.dst.version
                on = (self.conf_max("ignore_routes_with_linkdown", dev) if v == 4 else
                      self.sysctl_bool(f"net.ipv6.conf.{dev}.ignore_routes_with_linkdown",
                                       False))
                if on:
                    out.add((v, dev))
        return frozenset(out)

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

    def has_ipv4(self, iface: str) -> bool:
        """Whether `iface` holds an IPv4 address (the in_device's ifa_list is not empty); an
        interface the snapshot does not list is taken to have one."""
        found = self.host.interface(iface)
        return found is None or any(a.ip.version == 4 for a in found.addresses)

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
        if addr.version == 4:
            # __inet_dev_addr_type (net/ipv4/fib_frontend.c) looks in RT_TABLE_LOCAL only, no
            # ip rules: an address without a local-table route is UNICAST (fuzz: `ip rule not
            # ipproto tcp unreachable` made 10.2.0.2 UNREACHABLE here, the kernel said UNICAST)
            hit = self.fib.table_route("local", addr)
            res = RouteResult(hit.type if hit is not None else "unicast", hit)
        else:
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
        res = self.fib.lookup(dst, src, iif, mark=mark, keys=FlowKeys(proto), linkstate=False)
        if res.type == "local":
            out = "lo" if dst.is_loopback else (self.local.get(dst) or "lo")
            return out if via is None or via == out else None
        if via is not None:
            return via if res.type == "unicast" and via in self.route_devices(res) else None
        return res.oif

    def route_type(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
                   mark: int = 0) -> str:
        return self.fib.lookup(dst, src, iif, mark=mark, linkstate=False).type

    def set_elements(self, family: str, table: str, name: str) -> tuple[Any, ...] | None:
        return self.sets.get((family, table, name))

    def ipset(self, name: str) -> IpSet | Unknown | None:
        ipsets = self.host.ipsets
        if ipsets is None:
            return Unknown(f"the contents of ipset {name} are not in the snapshot (no "
                           "ipset-save.txt)")
        return next((s for s in ipsets if s.name == name), None)

    def interface_kind(self, name: str) -> str | None:
        iface = self.host.interface(name)
        return iface.kind if iface else None

    def interface_index(self, name: str) -> int | None:
        iface = self.host.interface(name)
        return iface.index if iface else None

    def interface_group(self, name: str) -> int:
        return 0

    def tproxy_socket(self, proto: str, laddr: IPAddress | None, lport: int,
                      iif: str | None, dst: IPAddress) -> Socket | None:
        if laddr is None:
            iface = self.host.interface(iif) if iif else None
            laddr = next((a.ip for a in (iface.addresses if iface else ())
                          if a.ip.version == dst.version), dst)
        found = self.sockets_for(proto, laddr, lport)
        return found[0] if found else None

    # --- what the packet walk needs ------------------------------------------------------
    def is_local(self, addr: IPAddress) -> bool:
        if addr in self.local:
            return True
        return self.fib.lookup(addr).type == "local"

    def route(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
              mark: int = 0, keys: FlowKeys = NO_KEYS, decide: Decide | None = None,
              oif: str | None = None, linkstate: bool = True) -> RouteResult:
        return self.fib.lookup(dst, src, iif, oif, mark, keys, decide, linkstate)

    def bridge_of(self, iface: str) -> str | None:
        i = self.host.interface(iface)
        return i.master if i else None

    def is_bridge(self, iface: str | None) -> bool:
        if iface is None:
            return False
        i = self.host.interface(iface)
        if i is not None:
            return i.kind == "bridge"
        return any(n.bridge == iface for n in self.host.runtimes.networks)

    def container_route(self, att: Attachment, dst: IPAddress) -> Attachment:
        """The endpoint of `att`'s container that its own routing table sends `dst` through:
        the one whose subnet has `dst` (a connected route), else the one holding the default
        route. Docker gives a container one default route, the gateway of its first endpoint in
        libnetwork's order (sandbox.go getGatewayEndpoint over epHeap.Less): internal networks
        last, then the higher gw-priority (Docker 28; 20.10's epPriority is 0 for `docker run`
        and `network connect` alike), then the network name. Docker 28 gives an internal
        network's endpoint no gateway at all; 20.10 reports one but sorts it last (lab:
        multi_net-proxy on both)."""
        mine = [a for a in self.attachments
                if a.container is att.container and a.addr(dst.version) is not None]
        for a in mine:
            iface = a.endpoint.ipv4 if dst.version == 4 else a.endpoint.ipv6
            if iface is not None and dst in iface.network:
                return a
        routed = [a for a in mine if a.gateway(dst.version) is not None]
        routed.sort(key=lambda a: (a.network is not None and a.network.internal,
                                   -a.endpoint.gw_priority, a.endpoint.network))
        return routed[0] if routed else att

    def is_plain_bridge(self, name: str | None) -> bool:
        """A Linux bridge no Docker network owns (libvirt's virbr0, lxcbr0, a router's br-lan):
        who sits behind it is not in the snapshot, unlike a Docker bridge's containers."""
        iface = self.host.interface(name) if name else None
        return (iface is not None and iface.kind == "bridge"
                and not any(n.bridge == name for n in self.host.runtimes.networks))

    def bridge_port(self, bridge: str) -> str:
        """The port a host behind a plain bridge is taken to sit on: its only port, else a name
        that no physdev rule names (which port is in the bridge's fdb, not in the snapshot)."""
        ports = [i.name for i in self.host.interfaces if i.master == bridge]
        return ports[0] if len(ports) == 1 else f"a port of {bridge}"

    def sockets_for(self, proto: str, addr: IPAddress, port: int,
                    iif: str | None = None) -> list[Socket]:
        """Listening sockets that accept proto to addr:port (wildcards and dual-stack
        included), the most specific bind first: inet_lookup_listener tries the exact address
        first, and among equals a socket bound to the device scores higher (compute_score).
        With `iif` (the device the packet came in on, lo for the host's own), a socket bound
        to another device (`0.0.0.0%eth0`, SO_BINDTODEVICE) does not take it
        (inet_sk_bound_dev_eq fails)."""
        exact, wild = shared("sockets by port", (self.host.sockets,), self._sockets_by_port)
        bound = exact.get((proto, port), {}).get(addr, []) if not addr.is_unspecified else []
        # exact binds before wildcards, each with its device-bound sockets first (the index's
        # order), else dump order
        return [s for s in bound + wild.get((proto, port, addr.version), [])
                if iif is None or s.iface is None or s.iface == iif]

    def socket_for(self, proto: str, addr: IPAddress, port: int,
                   iif: str | None = None) -> Socket | None:
        """The socket a connection to addr:port is delivered to, or None: `sockets_for()[0]`
        without sorting the whole list — the exact bind first, then the wildcards, and in each
        the first one bound to `iif`, else the first unbound: a scan of the device-bound ones only,
        however many sockets share the port (a scan of all of them made 50,000 quadratic,
        issue 29.13)."""
        exact, wild = shared("sockets by port", (self.host.sockets,), self._sockets_by_port)
        groups = (exact.get((proto, port), {}).get(addr, []) if not addr.is_unspecified else [],
                  wild.get((proto, port, addr.version), []))
        for group in groups:  # each has its device-bound sockets first (_sockets_by_port)
            for s in group:
                if s.iface is None or iif is None or s.iface == iif:
                    return s
        return None

    def _sockets_by_port(self) -> tuple[dict[tuple[str, int], dict[IPAddress, list[Socket]]],
                                        dict[tuple[str, int, int], list[Socket]]]:
        """(proto, port) -> bound address -> sockets, and (proto, port, family) -> the wildcard
        sockets a packet of that family reaches (an IPv6 dual-stack `::` takes IPv4 too), both
        with the sockets bound to a device first (they score higher), else in dump order: asked
        per packet delivered."""
        exact: dict[tuple[str, int], dict[IPAddress, list[Socket]]] = {}
        wild: dict[tuple[str, int, int], list[Socket]] = {}
        for s in sorted(self.host.sockets, key=lambda s: s.iface is None):
            if not s.addr.is_unspecified:
                exact.setdefault((s.proto, s.port), {}).setdefault(s.addr, []).append(s)
                continue
            for version in (4, 6):
                if s.addr.version == version or (s.dual_stack and version == 4):
                    wild.setdefault((s.proto, s.port, version), []).append(s)
        return exact, wild

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
        for net in self.host.runtimes.networks:
            for gw in net.gateways:
                routes.append(Route(ipaddress.ip_network(gw), "local", "local", net.bridge))
            for subnet in net.subnets:
                routes.append(Route(subnet, "unicast", "main", net.bridge))
        if self.host.interfaces or self.host.runtimes.networks:
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
        for c in self.host.runtimes.containers:
            if not c.running:
                continue
            for ep in c.endpoints:
                net = self.host.runtimes.network(ep.network)
                if net is not None and net.driver in L2_DRIVERS:
                    out.append(l2_attachment(c, ep, net))
                    continue
                bridge = net.bridge if net else None
                ports = free_ports.get(bridge or "", [])
                port = ports.pop(0) if ports else f"veth-{c.name.lstrip('/')}"
                out.append(Attachment(c, ep, net, bridge, port))
        return out


# Docker's drivers that put a container on a host device at layer 2, and their default mode
# (moby libnetwork drivers/macvlan: macvlan_mode defaults to bridge; drivers/ipvlan: l2)
L2_DRIVERS = {"macvlan": "bridge", "ipvlan": "l2"}


def l2_attachment(c: Container, ep: ContainerEndpoint, net: Network) -> Attachment:
    """A macvlan/ipvlan endpoint: no bridge, no veth; it sits on the network's `parent`.
    Without a parent Docker made a dummy device of its own (dm-*): `lower` None, a link with
    nothing on it but the network's other containers."""
    opts = dict(net.options)
    lower = opts.get("parent")
    mode = opts.get(f"{net.driver}_mode") or L2_DRIVERS[net.driver]
    return Attachment(c, ep, net, None, lower or f"{net.driver}-{net.name}", lower=lower,
                      mode=mode)

