"""ebtables `--ip6-*` (net/bridge/netfilter/ebt_ip6.c, ebt_ip6_mt).

Traffic class (ipv6_get_dsfield: here `Packet.tos`), source/destination under their prefix, the
upper-layer protocol after extension headers (ipv6_skip_exthdr), and — only with --ip6-proto —
ports or ICMPv6 type/code. checkentry requires `-p IPv6`; other frames evaluate to False.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.matches.eb_ip import l4_test, proto_number
from nflens.kernel.matches.eb_util import all_of, inv

NAMES = ("eb_ip6",)
ETH_P_IPV6 = 0x86DD


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if pkt is None or ctx.eth_proto != ETH_P_IPV6 or pkt.family != 6:
        return False
    results: list[MatchResult] = []
    has_proto = match.get("proto") is not None
    for opt in match.opts:
        if opt.name == "tclass":
            r: MatchResult = inv(opt, pkt.tos == opt.value)
        elif opt.name == "src":
            r = inv(opt, pkt.src in opt.value)
        elif opt.name == "dst":
            r = inv(opt, pkt.dst in opt.value)
        elif opt.name == "proto":
            number = proto_number(pkt.proto)
            r = Unknown(f"protocol {pkt.proto!r}") if number is None else inv(opt, number == opt.value)
        elif not has_proto:
            continue
        else:
            r = l4_test(opt, pkt)
        if r is False:
            return False
        results.append(r)
    return all_of(results)
