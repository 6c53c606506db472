"""A plausible client on each ingress interface: a neighbour address in the interface's own
subnet (not the host's), used for the example flows a finding explains with."""

from __future__ import annotations

import ipaddress

from nflens.ir.host import Host, shared


def neighbour(host: Host, iface: str, version: int):
    """(a neighbour's address, the host's address) on `iface`, or None."""
    i = host.interface(iface)
    local = shared("local addresses", (host.interfaces,),
                   lambda: {a.ip for x in host.interfaces for a in x.addresses})
    for a in i.addresses if i else ():
        if a.ip.version != version or a.scope == "link" or a.ip.is_loopback:
            continue
        net = a.network
        if net.num_addresses < 4:
            continue
        for cand in (net.network_address + 2, net.network_address + 1, net.network_address + 3):
            if cand not in local and cand != net.broadcast_address:
                return ipaddress.ip_address(cand), a.ip
    return None
