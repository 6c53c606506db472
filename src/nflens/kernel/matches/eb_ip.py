"""ebtables `--ip-*` (net/bridge/netfilter/ebt_ip.c, ebt_ip_mt).

Tests run in the kernel's order and the first failing one ends the match: TOS, source and
destination (address & mask), protocol; ports and ICMP/IGMP type are only looked at when
--ip-proto is given (the kernel returns true right after the protocol test otherwise), and never
for non-first fragments (not modelled: packets here are unfragmented). checkentry requires
`-p IPv4`, so a frame that is not IPv4 never gets here; it evaluates to False.
"""

from __future__ import annotations

from nflens.ir.packet import Packet
from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown, all_of
from nflens.kernel.matches.eb_util import apply, in_range, inv

DIALECT = "eb"
NAMES = ("eb_ip",)
PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "esp": 50,
                 "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136}
ETH_P_IP = 0x0800


def proto_number(proto: str) -> int | None:
    if proto in PROTO_NUMBERS:
        return PROTO_NUMBERS[proto]
    try:
        return int(proto)
    except (TypeError, ValueError):
        return None


def l4_test(opt: Opt, pkt: Packet) -> MatchResult:
    """Ports and ICMP type/code of the transport header (shared with eb_ip6)."""
    if opt.name == "sport":
        return apply(opt, in_range(pkt.sport, opt.value))
    if opt.name == "dport":
        return apply(opt, in_range(pkt.dport, opt.value))
    if opt.name == "icmp_type":
        if pkt.icmp_type is None:
            return Unknown("ICMP type of the packet is not known")
        types, codes = opt.value
        code = pkt.icmp_code or 0
        return inv(opt, types[0] <= pkt.icmp_type <= types[1] and codes[0] <= code <= codes[1])
    return Unknown(f"--ip-{opt.name.replace('_', '-')} is not modelled")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return evaluate_l3(match, ctx, ETH_P_IP, 4, "tos")


def evaluate_l3(match: XtMatch, ctx: PacketContext, eth_proto: int, family: int,
                dsfield: str) -> MatchResult:
    """ebt_ip and ebt_ip6 share their logic: addresses, protocol, and ports only with a
    protocol option. `dsfield` names the TOS (IPv4) or traffic-class (IPv6) option."""
    pkt = ctx.pkt
    if pkt is None or ctx.eth_proto != eth_proto or pkt.family != family:
        return False
    results: list[MatchResult] = []
    has_proto = match.get("proto") is not None
    for opt in match.opts:
        if opt.name == dsfield:
            r: MatchResult = inv(opt, pkt.tos == opt.value)
        elif opt.name == "src":
            r = inv(opt, pkt.src in opt.value)
        elif opt.name == "dst":
            r = inv(opt, pkt.dst in opt.value)
        elif opt.name == "proto":
            number = proto_number(pkt.proto)
            r = (Unknown(f"protocol {pkt.proto!r}") if number is None
                 else inv(opt, number == opt.value))
        elif not has_proto:
            continue  # ports without --ip-proto are never tested by the kernel
        else:
            r = l4_test(opt, pkt)
        if r is False:
            return False
        results.append(r)
    return all_of(results)
