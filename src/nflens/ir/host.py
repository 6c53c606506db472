"""The host around the rules: interfaces, routes, policy rules, sockets, sysctls, containers.

Built by `nflens.snapshot` from a snapshot directory (CONTRACT §2) and read by the kernel model.
Addresses are `ipaddress` objects; every collection is a tuple so the whole Host is hashable and
immutable. `Host.assumptions` lists what was assumed because a snapshot file was missing, so every
answer that depends on it can say so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from nflens.errors import AmbiguousReference
from nflens.ir.ipset import IpSet
from nflens.ir.rules import Ruleset

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class Address:
    """An address on an interface with its prefix (`ip -j addr`: local/prefixlen/scope)."""

    interface: IPInterface
    scope: str = "global"

    @property
    def ip(self) -> IPAddress:
        return self.interface.ip

    @property
    def network(self) -> IPNetwork:
        return self.interface.network


@dataclass(frozen=True)
class Interface:
    """A network interface as `ip -j -d link` and `ip -j addr` describe it.

    `kind`: "loopback", "ether" (physical or unknown), "bridge", "veth", "dummy", "vxlan", ...
    `master`: the bridge this interface is a port of. `peer_ifindex`: a veth's peer (`link_index`),
    `peer_netns`: set when the peer lives in another namespace (a container's eth0).
    """

    name: str
    index: int = 0
    kind: str = "ether"
    mac: str | None = None
    up: bool = True
    carrier: bool = True  # False: NO-CARRIER in ip link's flags (up, but no link)
    mtu: int = 1500
    master: str | None = None
    peer_ifindex: int | None = None
    peer_netns: str | None = None
    addresses: tuple[Address, ...] = ()
    hairpin: bool = False  # bridge port hairpin mode
    lower: str | None = None  # a macvlan/ipvlan's parent device (`link` in ip -d link)
    mode: str | None = None  # its mode (macvlan: bridge, vepa, private, passthru; ipvlan: l2..)
    bridge_nf: bool | None = None  # per-bridge nf_call_iptables override, if known


@dataclass(frozen=True)
class Route:
    """One route from `ip -j route show table all`.

    `type`: unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, throw.
    `dst` is a network (`default` becomes 0.0.0.0/0 or ::/0). `table`: "main", "local", or a number.
    """

    dst: IPNetwork
    type: str = "unicast"
    table: str = "main"
    dev: str | None = None
    gateway: IPAddress | None = None
    prefsrc: IPAddress | None = None
    metric: int = 0
    scope: str | None = None
    protocol: str | None = None
    # every next hop of a multipath route as (device, gateway); `dev`/`gateway` are the first
    nexthops: tuple[tuple[str | None, IPAddress | None], ...] = ()
    # the devices of the next hops `ip route` flags `linkdown` (RTNH_F_LINKDOWN: set by
    # fib_sync_down_dev when the device lost its carrier, or at creation without carrier)
    linkdown: tuple[str, ...] = ()

    @property
    def nexthop_devs(self) -> tuple[str | None, ...]:
        return tuple(dev for dev, _gw in self.nexthops)


@dataclass(frozen=True)
class PolicyRule:
    """A routing policy rule from `ip -j rule show`: selectors and the table it points to."""

    priority: int
    table: str
    action: str = "lookup"  # lookup, blackhole, unreachable, prohibit, goto, nop
    src: IPNetwork | None = None
    dst: IPNetwork | None = None
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    not_: bool = False
    family: int = 4
    # selectors of net/core/fib_rules.c fib_rule_match beyond addresses, devices and marks:
    # the IP protocol number, port ranges (inclusive) and the socket owner's uid range
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    uidrange: tuple[int, int] | None = None
    # `suppress_prefixlength N`: a route of prefix length <= N found through this rule is
    # ignored and the next rule is tried (fib4_rule_suppress; wg-quick's `main ... 0`)
    suppress_prefixlen: int | None = None
    # selectors the model does not evaluate (tos, l3mdev, tun_id, suppress_ifgroup), as
    # `ip rule` names them: the rule's effect is then an explored assumption, never a guess
    unmodelled: tuple[str, ...] = ()

    @property
    def selective(self) -> bool:
        """Whether the rule looks at anything of the packet (not `from all`)."""
        return bool(self.src or self.dst or self.iif or self.oif or self.fwmark is not None
                    or self.ipproto is not None or self.sport or self.dport or self.uidrange
                    or self.suppress_prefixlen is not None or self.unmodelled)


@dataclass(frozen=True)
class Socket:
    """A listening socket from `ss -Htlnup`.

    `addr` is the local address (0.0.0.0 / :: for wildcard; `*` becomes both when ss prints it);
    `process` the command name ("docker-proxy", "sshd"), `pid` when known; `iface` is set for
    sockets bound to a device (`%eth0`). `v6only` is unknown from ss and assumed False for `[::]`
    only when `*` was printed."""

    proto: str
    addr: IPAddress
    port: int
    process: str | None = None
    pid: int | None = None
    iface: str | None = None
    dual_stack: bool = False  # '*' or '[::]' with bindv6only=0: also accepts IPv4
    uid: int | None = None  # the owner (`ss -e` prints `uid:N`), None when not shown


@dataclass(frozen=True)
class PortBinding:
    """A published port: host_ip:host_port -> container_port/proto (`HostConfig` and
    `NetworkSettings.Ports`)."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""  # "" / "0.0.0.0" / "::" / a specific address
    host_port: int | None = None


@dataclass(frozen=True)
class ContainerEndpoint:
    """A container's attachment to one network."""

    network: str
    ipv4: ipaddress.IPv4Interface | None = None
    ipv6: ipaddress.IPv6Interface | None = None
    gateway4: ipaddress.IPv4Address | None = None
    gateway6: ipaddress.IPv6Address | None = None
    mac: str | None = None
    endpoint_id: str | None = None
    gw_priority: int = 0  # Docker 28's --gw-priority: the highest gives the default route


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    running: bool = True
    endpoints: tuple[ContainerEndpoint, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    exposed: tuple[tuple[int, str], ...] = ()  # (port, proto) the image exposes
    labels: tuple[tuple[str, str], ...] = ()
    network_mode: str = "bridge"
    pid: int | None = None
    image: str = ""  # Config.Image as the user named it (fleet groups hosts by their images)
    runtime: str = "docker"  # the runtime that runs it and owns its rules: docker, podman


@dataclass(frozen=True)
class Network:
    """A container network. `bridge`: the Linux bridge name (docker0, br-<id12>; podman0,
    podman1 for netavark). `options` keeps the driver options (com.docker.network.bridge.*,
    netavark's `options`) verbatim; `runtime` the runtime that made it (docker, podman)."""

    id: str
    name: str
    driver: str = "bridge"
    bridge: str | None = None
    subnets: tuple[Any, ...] = ()  # IPv4Network / IPv6Network
    gateways: tuple[Any, ...] = ()  # IPv4Address / IPv6Address
    internal: bool = False
    icc: bool = True
    masquerade: bool = True
    enable_ipv6: bool = False
    host_binding_ipv4: str | None = None
    gateway_mode_ipv4: str = "nat"  # nat, nat-unprotected, routed, isolated
    gateway_mode_ipv6: str = "nat"
    options: tuple[tuple[str, str], ...] = ()
    runtime: str = "docker"


@dataclass(frozen=True)
class DaemonOptions:
    """What the daemon does with the firewall (daemon.json, docker info)."""

    userland_proxy: bool = True
    iptables: bool = True
    ip6tables: bool = True
    firewall_backend: str = "iptables"  # or "nftables" (Docker 29)
    ip_forward: bool = True
    version: str | None = None
    raw: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class DockerState:
    """One container runtime's containers, networks and daemon options (Docker's, and Podman's
    with its version and netavark's firewall driver in `daemon`); `Host.runtimes` joins them."""

    containers: tuple[Container, ...] = ()
    networks: tuple[Network, ...] = ()
    daemon: DaemonOptions = field(default_factory=DaemonOptions)

    def container(self, ref: str) -> Container | None:
        """Docker's lookup (daemon/container.go GetContainer): a full ID, then an exact name,
        then an ID prefix only when it is unique. A name is never a prefix of anything: the
        container `b1` is not `b353…` whose ID starts with b1."""
        ref = ref.lstrip("/")
        return _lookup(self.containers, ref, [c for c in self.containers
                                              if c.name.lstrip("/") == ref], "container")

    def network(self, ref: str) -> Network | None:
        """Docker's lookup (daemon/network.go FindNetwork): full ID, full name, unique ID
        prefix; several networks of one name, or several IDs with the prefix, is an error."""
        return _lookup(self.networks, ref, [n for n in self.networks if n.name == ref], "network")


_Ref = TypeVar("_Ref", "Container", "Network")
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def _lookup(items: Sequence[_Ref], ref: str, by_name: list[_Ref], what: str) -> _Ref | None:
    if not ref:
        return None
    for item in items:
        if item.id == ref:
            return item
    if len(by_name) > 1:
        raise AmbiguousReference(f"{what} {ref!r} is ambiguous ({len(by_name)} {what}s have "
                                 f"that name: {', '.join(i.id[:12] for i in by_name)})")
    if by_name:
        return by_name[0]
    by_id = [i for i in items if i.id.startswith(ref)]
    if len(by_id) > 1:
        named = ", ".join(f"{i.name.lstrip('/')} ({i.id[:12]})" for i in by_id)
        raise AmbiguousReference(f"{what} {ref!r} is ambiguous: no {what} has that name and "
                                 f"{len(by_id)} IDs start with it: {named}")
    return by_id[0] if by_id else None


@dataclass(frozen=True)
class Host:
    """Everything the kernel model needs to know about one host.

    `sysctls` maps keys (net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables, ...) to strings.
    `persist` maps a persistence file's path (/etc/nftables.conf, a systemd unit) to its text.
    `files` lists the snapshot files that were present; `assumptions` what was assumed instead.
    """

    ruleset: Ruleset = field(default_factory=Ruleset)
    interfaces: tuple[Interface, ...] = ()
    routes: tuple[Route, ...] = ()
    policy_rules: tuple[PolicyRule, ...] = ()
    sockets: tuple[Socket, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    docker: DockerState = field(default_factory=DockerState)
    # rootful Podman (netavark); its containers and networks say runtime="podman"
    podman: DockerState = field(default_factory=DockerState)
    persist: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    name: str = "host"
    # the ipsets of `ipset save` (ir/ipset.py); None: the snapshot has no ipset-save.txt, so
    # what a `-m set` rule looks up is not known
    ipsets: tuple[IpSet, ...] | None = None

    def interface(self, name: str) -> Interface | None:
        return self._interface_by_name.get(name)

    @cached_property
    def runtimes(self) -> DockerState:
        """The containers and networks of every runtime (RUNTIMES, Docker's first): the one
        place the model and the analysis find a container, its addresses, networks and
        published ports (a container's runtime is `Container.runtime`; a new runtime is one
        more Host field named in RUNTIMES). A host with Docker alone gets `docker` itself, so
        every Docker answer is the one it was. Names are looked up across runtimes: a name two
        runtimes use is ambiguous (AmbiguousReference), never silently one of them. `daemon`
        is Docker's."""
        states = tuple(getattr(self, name) for name in RUNTIMES)
        if not any(s.containers or s.networks for s in states[1:]):
            return self.docker
        return shared("runtimes", states, lambda: DockerState(
            tuple(c for s in states for c in s.containers),
            tuple(n for s in states for n in s.networks), self.docker.daemon))

    def sysctl(self, key: str, default: str | None = None) -> str | None:
        return self._sysctl_by_key.get(key, default)

    # A real host has hundreds of veths and ~50,000 net.* sysctls; the simulator asks for them
    # on every packet. Built on first use (the dataclass is frozen; not fields: not compared)
    # and shared by the copies an audit makes (`shared`).
    @cached_property
    def _interface_by_name(self) -> dict[str, Interface]:
        return shared("interfaces", (self.interfaces,), lambda: _first_wins(
            (i.name, i) for i in self.interfaces))  # the first one wins, as the scan did

    @cached_property
    def _sysctl_by_key(self) -> dict[str, str]:
        return shared("sysctls", (self.sysctls,), lambda: _first_wins(self.sysctls))


# the Host fields holding a container runtime's state, in lookup order (Host.runtimes)
RUNTIMES = ("docker", "podman")


def _first_wins(pairs: Iterable[tuple[K, V]]) -> dict[K, V]:
    out: dict[K, V] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


# values of any kind, each under its own key; `shared` hands back the type its `build` made
_SHARED: dict[tuple[object, ...], tuple[tuple[object, ...], Any]] = {}


def shared(kind: str, sources: tuple[object, ...], build: Callable[[], T]) -> T:
    """`build()`, computed once for these very `sources` objects (compared by identity).

    Why: an audit verifies fixes on copies of the host (`dataclasses.replace`), which keep
    every unchanged field's object, and each copy used to rebuild its indexes (52,200
    sysctls, a FIB of 1,279 routes, 400 container attachments) — 174 times on a 400-container
    host. The sources are kept alive in the cache, so an id is never reused while cached;
    what is built must depend on the sources only, and must not be changed by its users."""
    key = (kind, *map(id, sources))
    hit = _SHARED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], sources)):
        value: T = hit[1]  # built by this `kind`'s one `build`: the same type
        return value
    if len(_SHARED) >= 64:
        _SHARED.clear()
    value = build()
    _SHARED[key] = (sources, value)
    return value
