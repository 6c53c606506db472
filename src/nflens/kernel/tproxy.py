"""TPROXY: a packet in prerouting handed to a local transparent listener (issue 24 class 12).

iptables `-j TPROXY --on-port P [--on-ip A] [--tproxy-mark V/M]` (net/netfilter/xt_TPROXY.c
tproxy_tg4/6) looks up a listening socket on A (default: the first address of the incoming
device, nf_tproxy_laddr4) port P (default: the packet's); with a transparent one it sets the
mark and assigns the socket to the skb and ACCEPTs, otherwise it DROPs. nft `tproxy to A:P`
(net/netfilter/nft_tproxy.c) does the same lookup but is not terminal: without a socket the
rule breaks (NFT_BREAK) and the chain goes on; a mark is a separate `meta mark set`.

What follows is routing's business: the usual `ip rule fwmark X lookup 100` + `ip route add
local 0/0 dev lo table 100` makes the route local, and local delivery hands the packet to the
assigned socket whatever its destination port (the early demux sees skb->sk). Without a local
route ip_forward drops a packet that carries a socket (net/ipv4/ip_forward.c). Whether the
listener set IP_TRANSPARENT the snapshot cannot show (ss does not print it): it is assumed,
and said in the flow's assumptions.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.ir.rules import Action
from nflens.kernel.context import PacketContext, Unknown


def lookup(action: Action, ctx: PacketContext) -> Any:
    """The listener the divert finds: a Socket, None, or Unknown."""
    pkt = ctx.pkt
    if pkt is None or pkt.proto not in ("tcp", "udp"):
        return None
    addr = action.get("addr")
    laddr = ipaddress.ip_address(str(addr).strip("[]")) if addr not in (None, "") else None
    if laddr is not None and laddr.is_unspecified:
        laddr = None  # --on-ip 0.0.0.0: iptables-save prints the default
    port = action.get("port") or pkt.dport or 0
    iif = ctx.iif if isinstance(ctx.iif, str) else None
    if isinstance(ctx.iif, Unknown):
        return ctx.iif
    return ctx.env.tproxy_socket(pkt.proto, laddr, int(port), iif, pkt.dst)
