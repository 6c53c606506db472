"""ebtables `--arp-*` (net/bridge/netfilter/ebt_arp.c, ebt_arp_mt).

The ARP header of the frame (`PacketContext.arp`, RFC 826) is tested in the kernel's order:
opcode, hardware type, protocol type; the IP tests (--arp-ip-src/dst, --arp-gratuitous) need an
IPv4-over-Ethernet ARP packet (ar_pln == 4, ar_pro == ETH_P_IP), the MAC tests an Ethernet one
(ar_hln == 6, ar_hrd == ARPHRD_ETHER) — the kernel returns false otherwise, even for a negated
option. `ArpInfo` describes Ethernet/IPv4 ARP (htype 1, ptype 0x0800), the only kind modelled.
--arp-gratuitous matches when the sender and target IP are equal.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, all_of
from nflens.kernel.matches.eb_util import apply, inv, mac_masked_equal

DIALECT = "eb"
NAMES = ("eb_arp",)
ARPHRD_ETHER = 1
ETH_P_IP = 0x0800


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    arp = ctx.arp
    if arp is None:
        return False
    results: list[MatchResult] = []
    for opt in match.opts:
        if opt.name == "op":
            r: MatchResult = inv(opt, arp.op == opt.value)
        elif opt.name == "htype":
            r = inv(opt, opt.value == ARPHRD_ETHER)
        elif opt.name == "ptype":
            r = inv(opt, opt.value == ETH_P_IP)
        elif opt.name == "ip_src":
            r = inv(opt, arp.sip in opt.value)
        elif opt.name == "ip_dst":
            r = inv(opt, arp.tip in opt.value)
        elif opt.name == "gratuitous":
            r = inv(opt, arp.sip == arp.tip)
        elif opt.name == "mac_src":
            r = apply(opt, mac_masked_equal(arp.sha, opt.value))
        elif opt.name == "mac_dst":
            r = apply(opt, mac_masked_equal(arp.tha, opt.value))
        else:
            r = False
        if r is False:
            return False
        results.append(r)
    return all_of(results)
