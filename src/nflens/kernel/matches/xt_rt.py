"""-m rt (ip6tables' IPv6 Routing Header match, net/ipv6/netfilter/ip6t_rt.c).

rt_mt6 looks the routing header up with ipv6_find_hdr(..., NEXTHDR_ROUTING, ...); when the
packet has none (-ENOENT) it returns false whatever the options and their `!` say (the
negations apply to the header's fields, not to its presence). The packets nflens models carry
no IPv6 extension headers (a client's TCP/UDP/ICMPv6 connection: Packet has no field for them),
so the match is false on every one of them. This matters on every ufw host: before6.rules
drops `-m rt --rt-type 0` first in ufw6-before-input and ufw6-before-forward, and without this
module every IPv6 verdict through ufw was uncertain (issue 14)."""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.region import EMPTY, Region

DIALECT = "xt"
NAMES = ("rt",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return False  # no routing header on a modelled packet (rt_mt6: -ENOENT -> false)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: no packet of the region has a routing header."""
    return EMPTY
