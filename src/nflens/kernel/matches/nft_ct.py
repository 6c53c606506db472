"""nft ct expressions: the packet's conntrack entry (net/netfilter/nft_ct.c, nft_ct_get_eval;
nft(8) "CONNTRACK EXPRESSIONS").

`ct state` is a bit set (NF_CT_STATE_BIT: new, established, related, invalid, untracked); with
no conntrack entry the kernel reports `invalid` (nft_ct_get_eval: ct == NULL -> state =
NF_CT_STATE_INVALID_BIT). Every other key breaks (MISSING) without an entry — a NOTRACKed
packet has none either (nf_ct_get returns NULL with IP_CT_UNTRACKED): `ct status != assured`
does not match it.
`ct status` is the IPS_* bit set (expected, seen-reply, assured, confirmed, snat, dnat, dying).
`ct original saddr` / `ct reply daddr` / `proto-src` / `proto-dst` read the two tuples.
`ct original ip daddr` (key "ip daddr", NFT_CT_DST_IP) is the same read restricted to one
family: an entry of the other family does not have it (the rule breaks).
"""

from __future__ import annotations

from typing import Any

from nflens.ir.rules import NftCmp, NftExpr
from nflens.kernel.context import CtView, MatchResult, PacketContext, Unknown
from nflens.kernel.matches._nft_common import MISSING, evaluate_cmp
from nflens.kernel.matches.nft_symbols import proto_number

DIALECT = "nft"
NAMES = ("ct",)
DOMAINS = {"state": "ct_state", "status": "ct_status", "protocol": "inet_proto",
           "proto": "inet_proto", "l3proto": "nfproto"}


def evaluate(cmp: NftCmp, ctx: PacketContext) -> MatchResult:
    return evaluate_cmp(cmp, ctx)


def domain(expr: NftExpr) -> str | None:
    return DOMAINS.get(expr.get("key"))


def value(expr: NftExpr, ctx: PacketContext) -> Any:
    key, direction = expr.get("key"), expr.get("dir")
    ct = ctx.ct
    if isinstance(key, str) and key.split(" ", 1)[0] in ("ip", "ip6") and " " in key:
        fam, key = key.split(" ", 1)
        if ct is not None and ct.orig_src is not None and \
                ct.orig_src.version != (4 if fam == "ip" else 6):
            return MISSING
    if key == "state":
        if ct is None:
            return frozenset({"invalid"})
        return frozenset({ct.state.lower()})
    if ct is None or ct.state == "UNTRACKED":
        return MISSING
    if direction is not None or key in ("saddr", "daddr", "proto-src", "proto-dst"):
        return _tuple(key, direction or "original", ct)
    simple = {"mark": ct.mark, "zone": ct.zone, "direction": ct.direction.lower(),
              "l3proto": 2 if (ct.orig_src and ct.orig_src.version == 4) else 10,
              "protocol": proto_number(ct.proto), "proto": proto_number(ct.proto)}
    if key == "status":
        return frozenset(s.lower().replace("_", "-") for s in ct.status)
    if key == "helper":
        return MISSING if ct.helper is None else ct.helper
    if key in simple:
        return simple[key]
    return Unknown(f"ct {key} is not modelled")


def _tuple(key: str, direction: str, ct: CtView) -> Any:
    if direction == "original":
        found = {"saddr": ct.orig_src, "daddr": ct.orig_dst, "proto-src": ct.orig_sport,
                 "proto-dst": ct.orig_dport}.get(key, Unknown(f"ct original {key}"))
    else:
        found = {"saddr": ct.reply_src, "daddr": ct.reply_dst, "proto-src": ct.reply_sport,
                 "proto-dst": ct.reply_dport}.get(key, Unknown(f"ct reply {key}"))
    if key in ("protocol", "l3proto"):
        return proto_number(ct.proto)
    return MISSING if found is None else found
