"""An address with a non-contiguous netmask: `-s 10.11.12.13/255.0.255.0`.

iptables (and ebtables' --ip-src, --arp-ip-src) take any dotted mask, contiguous or not, and the
kernel compares `(addr & mask) == (net & mask)` (net/ipv4/netfilter/ip_tables.c ip_packet_match,
NF_INVF(... (ip->saddr.s_addr & ipinfo->smsk.s_addr) != ipinfo->src.s_addr)). A contiguous mask
is an `ipaddress` network; only the other masks become a `MaskedNetwork`, so every consumer of a
plain network keeps working, and one that needs intervals asks `intervals()` (a non-contiguous
mask is a union of 2**k intervals, k = the mask's zero bits above its lowest one bit).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

INTERVAL_LIMIT = 1 << 16  # beyond this a caller says "unknown" rather than build the union


@dataclass(frozen=True)
class MaskedNetwork:
    address: Any  # IPv4Address / IPv6Address, already masked
    netmask: Any  # same version, any bits

    @classmethod
    def parse(cls, addr: str,
              mask: str) -> MaskedNetwork | ipaddress.IPv4Network | ipaddress.IPv6Network:
        """A network for a contiguous mask, a MaskedNetwork for any other (ValueError if bad)."""
        a, m = ipaddress.ip_address(addr), ipaddress.ip_address(mask)
        if a.version != m.version:
            raise ValueError(f"{addr}/{mask}: address and mask of different IP versions")
        try:
            return ipaddress.ip_network(f"{a}/{m}", strict=False)
        except ValueError:
            pass
        return cls(type(a)(int(a) & int(m)), m)

    @property
    def version(self) -> int:
        return int(self.address.version)

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def network_address(self) -> Any:
        return self.address

    @property
    def num_addresses(self) -> int:
        return 1 << (self.bits - bin(int(self.netmask)).count("1"))

    def __contains__(self, addr: Any) -> bool:
        return getattr(addr, "version", None) == self.version and \
            int(addr) & int(self.netmask) == int(self.address)

    def __str__(self) -> str:
        return f"{self.address}/{self.netmask}"

    def intervals(self, limit: int = INTERVAL_LIMIT) -> tuple[tuple[int, int], ...] | None:
        """The sorted, disjoint address intervals this matches; None if more than `limit`."""
        mask, net = int(self.netmask), int(self.address)
        low = (mask & -mask).bit_length() - 1 if mask else self.bits  # lowest one bit
        span = 1 << low
        free = [b for b in range(low, self.bits) if not mask >> b & 1]
        if 1 << len(free) > limit:
            return None
        out = []
        for combo in range(1 << len(free)):
            base = net
            for i, b in enumerate(free):
                if combo >> i & 1:
                    base |= 1 << b
            out.append((base, base + span - 1))
        return tuple(out)
