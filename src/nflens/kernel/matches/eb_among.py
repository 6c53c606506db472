"""ebtables `--among-src/--among-dst` (net/bridge/netfilter/ebt_among.c).

An element is a MAC, optionally with an IPv4 address. ebt_mac_wormhash_contains(): when the
frame carries an IPv4 address (the IP header for IPv4 frames, the ARP sender/target IP for
ARP), an element matches on an equal MAC and either no IP or an equal IP; for any other frame
only elements without an IP can match. --among-*-file lists come from a file the snapshot
does not have: Unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nflens.ir.packet import IPAddress
from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown, all_of
from nflens.kernel.matches.eb_util import inv

DIALECT = "eb"
NAMES = ("eb_among",)


def _frame_ip(ctx: PacketContext, source: bool) -> ipaddress.IPv4Address | None:
    if ctx.eth_proto == 0x0800 and ctx.pkt is not None and ctx.pkt.family == 4:
        return ctx.pkt.src if source else ctx.pkt.dst  # type: ignore[return-value]
    if ctx.eth_proto == 0x0806 and ctx.arp is not None:
        return ctx.arp.sip if source else ctx.arp.tip
    return None


def contains(elements: Iterable[tuple[str, IPAddress | None]], mac: str,
             ip: IPAddress | None) -> bool:
    for emac, eip in elements:
        if emac == mac and (eip is None or (ip is not None and eip == ip)):
            return True
    return False


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    results: list[MatchResult] = []
    for opt in match.opts:
        if opt.name.endswith("_file"):
            results.append(Unknown(f"--among-{opt.name.replace('_', '-')} list is not in the "
                                   "snapshot"))
            continue
        source = opt.name == "src"
        mac = ctx.src_mac if source else ctx.dst_mac
        if mac is None:
            results.append(Unknown("the frame's MAC address is not in the snapshot"))
            continue
        r = inv(opt, contains(opt.value, mac.lower(), _frame_ip(ctx, source)))
        if r is False:
            return False
        results.append(r)
    return all_of(results)
