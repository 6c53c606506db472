"""ipset sets as `ipset save` shows them (the sets iptables' `-m set --match-set` looks up).

An ipset is not part of any netfilter table: it is a kernel object of its own (one namespace of
names per network namespace), so it is kept beside the ruleset (`Host.ipsets`), never as an nft
set. A set's type names its dimensions (`hash:net,port` = a network, then a port); each entry
holds one value per dimension. Types and options the model does not decide are kept, named in
`unsupported`, so a match on such a set is uncertain instead of refused or guessed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# one dimension's value: a network (ip/net dimensions; an address is a /32 or /128), a
# (protocol, port) pair (port dimensions; ICMP entries keep their text as the port), or a set name
Value = Network | tuple[str, int | str] | str

# the dimensions the model decides (ip_set_hash_*.c, ip_set_bitmap_*.c, ip_set_list_set.c)
MODELLED_DIMENSIONS = frozenset({"ip", "net", "port", "set"})


@dataclass(frozen=True)
class IpSetEntry:
    """One `add` line. `timeout`: seconds left when the snapshot was taken (the entry is
    present at that moment; it may be gone later)."""

    values: tuple[Value, ...]
    nomatch: bool = False
    timeout: int | None = None
    line: int = 0


@dataclass(frozen=True)
class IpSet:
    """One `create` line and its entries.

    `family`: "inet" or "inet6" for the hash and bitmap:ip types; None for bitmap:port and
    list:set, which the kernel creates with NFPROTO_UNSPEC (they match packets of either
    family). `netmask`: hash:ip's and bitmap:ip's `netmask N` (the packet's address is masked
    before the lookup). `unsupported`: why the model cannot decide a lookup in this set."""

    name: str
    type: str
    family: str | None = "inet"
    entries: tuple[IpSetEntry, ...] = ()
    netmask: int | None = None
    port_range: tuple[int, int] | None = None  # bitmap:port's `range`
    options: tuple[tuple[str, str], ...] = ()
    unsupported: tuple[str, ...] = ()
    file: str = "ipset-save.txt"
    line: int = 0

    @property
    def method(self) -> str:
        return self.type.split(":", 1)[0]

    @property
    def dimensions(self) -> tuple[str, ...]:
        """`hash:net,port` -> ("net", "port"); list:set -> ("set",)."""
        return tuple(self.type.split(":", 1)[1].split(",")) if ":" in self.type else ()

    @property
    def has_nomatch(self) -> bool:
        """IPSET_TYPE_NOMATCH: the types with a net dimension take `nomatch` entries, and only
        for them does --return-nomatch invert (ip_set_core.c ip_set_test)."""
        return self.method == "hash" and "net" in self.dimensions
