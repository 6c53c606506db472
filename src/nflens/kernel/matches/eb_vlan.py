"""ebtables `--vlan-*` (net/bridge/netfilter/ebt_vlan.c, ebt_vlan_mt).

The TCI comes from the hardware-accelerated tag when present (skb_vlan_tag_get) and the
encapsulated type is then skb->protocol. `PacketContext.vlan` is the VLAN id of a tagged frame
(None: untagged, which `-p 802_1Q` — required by checkentry — already rejects, so False); the
priority is read from `ctx.extra["vlan_prio"]` when the caller knows it, else Unknown.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown, all_of
from nflens.kernel.matches.eb_util import inv

DIALECT = "eb"
NAMES = ("eb_vlan",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    if ctx.vlan is None:
        return False
    extra = dict(ctx.extra)
    results: list[MatchResult] = []
    for opt in match.opts:
        if opt.name == "id":
            r: MatchResult = inv(opt, (ctx.vlan & 0xFFF) == opt.value)
        elif opt.name == "prio":
            prio = extra.get("vlan_prio")
            r = Unknown("VLAN priority of the frame is not known") if prio is None \
                else inv(opt, prio == opt.value)
        elif opt.name == "encap":
            r = inv(opt, ctx.eth_proto == opt.value)
        else:
            r = Unknown(f"--vlan-{opt.name} is not modelled")
        if r is False:
            return False
        results.append(r)
    return all_of(results)
