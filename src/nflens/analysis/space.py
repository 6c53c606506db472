"""Where an address set reaches: "the internet" or local space only. The fleet summary marks
ports open to the internet with it, and the `no-firewall` finding rates its severity by it."""

from __future__ import annotations

import ipaddress as ip
from collections.abc import Iterable

from nflens.kernel.region import merge, subtract

# Sources that are not "the internet": private, shared (CGNAT), loopback, link-local, this-net,
# multicast and reserved space (RFC 6890). Documentation ranges count as public: labs and
# examples use them as stand-ins for internet addresses.
LOCAL_SPACE = {4: [ip.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4")],
    6: [ip.ip_network(n) for n in ("::/127", "fc00::/7", "fe80::/10", "ff00::/8")]}
LOCAL_RANGES = {v: merge((int(n.network_address), int(n.broadcast_address)) for n in nets)
                for v, nets in LOCAL_SPACE.items()}


def reaches_internet(cidrs: Iterable[str]) -> bool:
    """True when any address of the CIDRs lies outside LOCAL_SPACE (exact, by subtraction)."""
    for text in cidrs:
        try:
            net = ip.ip_network(text, strict=False)
        except ValueError:
            continue
        span = (int(net.network_address), int(net.broadcast_address))
        if subtract([span], LOCAL_RANGES[net.version]):
            return True
    return False
