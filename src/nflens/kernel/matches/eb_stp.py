"""ebtables `--stp-*` (net/bridge/netfilter/ebt_stp.c).

ebt_stp_mt first compares the frame's LLC header with the STP one (DSAP/SSAP 0x42, control 3)
and returns false on a mismatch, negation or not. IPv4, IPv6 and ARP frames (the only ones the
model builds) never carry it, so the match is False for them; other frames are Unknown.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown

DIALECT = "eb"
NAMES = ("eb_stp",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    if ctx.eth_proto in (0x0800, 0x86DD, 0x0806):
        return False
    return Unknown("STP BPDUs are not modelled")
