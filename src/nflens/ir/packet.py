"""Concrete packets and flows: what the simulator is asked about.

A `Flow` is the user's question (CONTRACT §3): where a connection starts (an interface and source
address, a container, or the host itself) and where it goes. The simulator turns it into `Packet`s.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def split_zone(addr: IPAddress) -> tuple[IPAddress, str | None]:
    """An IPv6 address without its `%zone` (sin6_scope_id) and the zone: the address is
    compared as the kernel compares it (ipaddress would not find `fe80::1%eth0` among the
    host's addresses), the zone says which interface a connect() is bound to."""
    zone = getattr(addr, "scope_id", None)
    if not zone:
        return addr, None
    return ipaddress.IPv6Address(str(addr).partition("%")[0]), zone


def max_address(version: int) -> int:
    """The highest address of IP `version` (4, else 6) as an int: the top of an address axis
    for the interval algebra of symbolic/, analysis/partition.py and the match modules."""
    return 2**32 - 1 if version == 4 else 2**128 - 1


@dataclass(frozen=True)
class Packet:
    """An IP packet's headers as netfilter sees them, plus its metadata.

    `proto`: "tcp", "udp", "icmp", "icmpv6", "sctp", or a number as a string.
    `tcp_flags`: the set of flags set ({"SYN"} for a connection's first packet).
    `mark`: skb->mark. `iif`/`oif` are filled in by the simulator as the packet moves.
    """

    src: IPAddress
    dst: IPAddress
    proto: str = "tcp"
    sport: int | None = None
    dport: int | None = None
    tcp_flags: frozenset[str] = frozenset({"SYN"})
    icmp_type: int | None = None
    icmp_code: int | None = None
    length: int = 60
    ttl: int = 64
    tos: int = 0
    mark: int = 0
    src_mac: str | None = None
    dst_mac: str | None = None

    @property
    def family(self) -> int:
        return self.src.version

    def with_(self, **changes: Any) -> Packet:
        return replace(self, **changes)


@dataclass(frozen=True)
class Endpoint:
    """Where a flow starts: exactly one of iface (+src), container, host."""

    iface: str | None = None
    src: IPAddress | None = None
    container: str | None = None
    host: bool = False

    def describe(self) -> str:
        if self.container:
            return f"container:{self.container}"
        if self.host:
            return "host"
        return f"{self.iface}:{self.src}"


@dataclass(frozen=True)
class Flow:
    """One question: can `origin` open a connection to dst:dport/proto?"""

    name: str
    origin: Endpoint
    dst: IPAddress
    dport: int | None
    proto: str = "tcp"
    sport: int | None = None
    expect: str | None = None  # "allow" / "deny"
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # the %zone of an IPv6 destination (`fe80::1%eth0`, as ss prints a link-local peer): the
    # scope id that binds the host's own connect() to that interface; `dst` is without it
    zone: str | None = None

    def unzoned(self) -> Flow:
        """This flow with the %zone of `dst` (if it still carries one) moved to `zone`."""
        dst, zone = split_zone(self.dst)
        return self if zone is None else replace(self, dst=dst, zone=zone)
