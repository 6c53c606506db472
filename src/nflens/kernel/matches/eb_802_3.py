"""ebtables `--802_3-sap/--802_3-type` (net/bridge/netfilter/ebt_802_3.c).

These read the 802.2 LLC (and SNAP) header of an 802.3 frame; checkentry requires `-p LENGTH`.
Ethernet II frames (type >= 0x0600: IPv4, IPv6, ARP — everything the model builds) are never
802.3 frames, so the rule cannot match them: False. A real 802.3 frame is Unknown.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown

DIALECT = "eb"
NAMES = ("eb_802_3",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    if ctx.eth_proto >= 0x0600:
        return False
    return Unknown("802.3 LLC/SNAP headers are not modelled")
