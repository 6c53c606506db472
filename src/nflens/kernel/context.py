"""What a match or target sees when it is evaluated: the packet plus the hook's metadata.

Match modules (kernel/matches/*) are pure functions `evaluate(match, ctx) -> bool | Unknown`.
`Unknown` is returned when the answer depends on something the model does not know (an
unmodelled option, a set whose contents the snapshot lacks, a rate limit); the chain walker then
explores both outcomes and the verdict becomes `uncertain` only if they differ.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from nflens.ir.ipset import IpSet
from nflens.ir.packet import Packet
from nflens.ir.rules import Action, NftCmp, NftExpr, XtMatch

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Unknown:
    """The model cannot decide this match; `reason` names the construct (shown to the user)."""

    reason: str

    def __bool__(self) -> bool:  # guard against accidental truthiness
        raise TypeError("Unknown has no truth value; test `isinstance(r, Unknown)` first")


MatchResult = bool | Unknown


def any_of(results: Iterable[MatchResult]) -> MatchResult:
    """Three-valued OR (an nft set lookup over its elements): True at the first True (later
    ones are not computed, as with `any`), else the first Unknown, else False."""
    undecided: Unknown | None = None
    for r in results:
        if isinstance(r, Unknown):
            undecided = undecided if undecided is not None else r
        elif r:
            return True
    return False if undecided is None else undecided


def all_of(results: Iterable[MatchResult]) -> MatchResult:
    """Three-valued AND (a rule's options, an nft concatenation's parts): False at the first
    False (the kernel stops at the first failing test), else the first Unknown, else True."""
    undecided: Unknown | None = None
    for r in results:
        if isinstance(r, Unknown):
            undecided = undecided if undecided is not None else r
        elif not r:
            return False
    return True if undecided is None else undecided


def describe(value: Any) -> str:
    """A value as a user reads it in a reason (an nft expression by its kind, a set by its
    members), never a Python repr of the IR."""
    if isinstance(value, NftExpr):
        name = value.get("name")
        if isinstance(name, str):
            return f"{value.kind} {name}"
        return f"an nft {value.kind or 'object'}"
    if isinstance(value, (NftCmp, XtMatch, Action)):
        return f"an nft relation on {describe(value.left)}" if isinstance(value, NftCmp) else \
            f"{'-m ' if isinstance(value, XtMatch) else ''}{value.name}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(describe(v) for v in value)) + "}"
    return str(value)


@dataclass(frozen=True)
class CtView:
    """The conntrack entry as a match sees it (include/uapi/linux/netfilter/nf_conntrack_common.h).

    `state`: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED (ctstate names; `state` match uses the
    same). `status`: subset of {EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED, SNAT, DNAT}.
    `direction`: ORIGINAL or REPLY. `orig_*`/`reply_*`: the two tuples; after DNAT the reply tuple's
    source is the translated destination.
    """

    state: str
    status: frozenset[str] = frozenset()
    direction: str = "ORIGINAL"
    proto: str = "tcp"
    orig_src: IPAddress | None = None
    orig_dst: IPAddress | None = None
    orig_sport: int | None = None
    orig_dport: int | None = None
    reply_src: IPAddress | None = None
    reply_dst: IPAddress | None = None
    reply_sport: int | None = None
    reply_dport: int | None = None
    mark: int = 0
    zone: int = 0
    helper: str | None = None


class HostEnv(Protocol):
    """Host knowledge a match may need; implemented by the kernel over `ir.Host`. A lookup
    may answer Unknown: the null host of a symbolic question (kernel/region.py's NullHost) has
    no routes or interfaces to look in."""

    def addr_type(self, addr: IPAddress, iface: str | None = None) -> str | Unknown:
        """LOCAL, UNICAST, BROADCAST, MULTICAST, ANYCAST, BLACKHOLE, UNREACHABLE, PROHIBIT, UNSPEC
        (the rtn_type of `addr` in the local/main FIB; with `iface`, limited to that device as
        xt_addrtype's --limit-iface-in/out does)."""

    def route_oif(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
                  mark: int = 0, proto: int = 0, via: str | None = None) -> str | Unknown | None:
        """The output interface the FIB picks for dst (fib daddr oif / rpfilter), None if none;
        `iif` is the lookup's input device (None: loopback). With `via`: `via` when one of the
        route's next hops uses it, else None."""

    def route_type(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
                   mark: int = 0) -> str | Unknown:
        """The type of the route the FIB picks for dst (unicast, local, blackhole, ..., "none"
        for no route); the lookup route_oif makes (-m rpfilter needs both)."""

    def set_elements(self, family: str, table: str, name: str) -> tuple[Any, ...] | None:
        """Elements of an nft named set/map, or None when the snapshot does not have it
        (ipset: family "ipset", table "")."""

    def ipset(self, name: str) -> IpSet | Unknown | None:
        """The ipset `name` of `ipset save` (-m set looks it up); None when the snapshot's
        ipset-save.txt has no such set, Unknown when the snapshot has no ipset-save.txt."""

    def interface_kind(self, name: str) -> str | None:
        """Kind of a host interface (bridge, veth, loopback, ...), None if unknown."""

    def interface_index(self, name: str) -> int | Unknown | None: ...

    def interface_group(self, name: str) -> int | Unknown: ...

    def tproxy_socket(self, proto: str, laddr: IPAddress | None, lport: int,
                      iif: str | None, dst: IPAddress) -> Any:
        """The listening socket a TPROXY divert finds (nf_tproxy_get_sock_v4/v6, listener
        lookup): on `laddr`, or the first address of `iif` (nf_tproxy_laddr4), or `dst`;
        None when nothing listens, Unknown when the host is not known."""


@dataclass(frozen=True)
class ArpInfo:
    """ARP header fields (RFC 826) for the arp family and ebtables' --arp-* options."""

    op: int  # 1 request, 2 reply
    sha: str | None  # None: the snapshot does not have this MAC (matches on it are Unknown)
    # None: the asker has no IPv4 address there (the host none on the bridge, a container
    # no IPv4 endpoint); an --arp-ip-* match on it is then not decidable
    sip: ipaddress.IPv4Address | None
    tha: str | None  # a request's is 00:00:00:00:00:00 (what Linux's arp_send puts there)
    tip: ipaddress.IPv4Address | None


@dataclass(frozen=True)
class PacketContext:
    """A packet at one hook of one family, with everything a match may look at.

    `family`: the family of the table being evaluated (ip, ip6, inet, bridge, arp, netdev).
    `iif`/`oif`: the in/out device *as that family sees it* (for ip/ip6 on a bridged packet,
    the bridge; the bridge port is `physin`/`physout`). `bridged` is True when an IP hook runs
    because br_netfilter passed a bridged frame up (xt_physdev's --physdev-is-bridged).
    `arp`: set for ARP frames (then `pkt` may be None). `eth_proto`: 0x0800, 0x86dd, 0x0806.
    """

    pkt: Packet | None
    family: str
    hook: str
    env: HostEnv
    # Unknown: an interface a symbolic question leaves open (symbolic/matrix.py); a walk of a
    # real packet always names its devices
    iif: str | Unknown | None = None
    oif: str | Unknown | None = None
    physin: str | None = None
    physout: str | None = None
    bridged: bool = False
    ct: CtView | None = None
    arp: ArpInfo | None = None
    eth_proto: int = 0x0800
    src_mac: str | None = None
    dst_mac: str | None = None
    pkttype: str = "host"  # host (unicast to us), broadcast, multicast, otherhost
    uid: int | None = None  # owner of a locally generated packet's socket (OUTPUT/POSTROUTING)
    gid: int | None = None
    # a local socket sent the packet but the snapshot does not show its owner (the host's
    # opener of a flow): owner matches are then unknown, with this reason
    owner_unknown: str | None = None
    socket_present: bool = False  # a local socket matches this packet (xt_socket, nft socket)
    mark: int = 0
    vlan: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def l3(self) -> str:
        return {0x0800: "ipv4", 0x86DD: "ipv6", 0x0806: "arp"}.get(self.eth_proto,
                                                                    hex(self.eth_proto))


MatchFn = Callable[[Any, PacketContext], MatchResult]


def with_table(ctx: PacketContext, table: str) -> PacketContext:
    """`ctx` with ("table", name) appended to `extra` (nft set references resolve per table):
    a plain copy of the frozen fields, since `dataclasses.replace` re-runs `__init__` and
    was the largest single cost of a chain walk (every table entered, every packet)."""
    new = object.__new__(PacketContext)
    new.__dict__.update(ctx.__dict__)
    new.__dict__["extra"] = ctx.extra + (("table", table),)
    return new

