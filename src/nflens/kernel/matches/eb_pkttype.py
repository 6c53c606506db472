"""ebtables `--pkttype-type` (net/bridge/netfilter/ebt_pkttype.c): skb->pkt_type equality.

`PacketContext.pkttype` uses the same names (host, broadcast, multicast, otherhost, outgoing,
loopback, fastroute — include/uapi/linux/if_packet.h PACKET_*).
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.matches.eb_util import inv

DIALECT = "eb"
NAMES = ("eb_pkttype",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    opt = match.get("type")
    if opt is None:
        return True
    return inv(opt, ctx.pkttype == opt.value)
