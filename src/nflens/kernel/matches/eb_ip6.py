"""ebtables `--ip6-*` (net/bridge/netfilter/ebt_ip6.c, ebt_ip6_mt).

Traffic class (ipv6_get_dsfield: here `Packet.tos`), source/destination under their prefix, the
upper-layer protocol after extension headers (ipv6_skip_exthdr), and — only with --ip6-proto —
ports or ICMPv6 type/code. checkentry requires `-p IPv6`; other frames evaluate to False.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.matches.eb_ip import evaluate_l3

DIALECT = "eb"
NAMES = ("eb_ip6",)
ETH_P_IPV6 = 0x86DD


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return evaluate_l3(match, ctx, ETH_P_IPV6, 6, "tclass")
