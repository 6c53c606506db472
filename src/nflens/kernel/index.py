"""Per-chain indexes that let the walker skip rules that cannot match this packet.

Docker writes one rule per container or published port (`-d 172.17.0.5/32 ...`,
`--dport 10005 -j DNAT ...`, raw `-d 172.17.0.5/32 ! -i br -j DROP`), so a 500-container host
has chains of 500 rules of which one can match a given packet. A rule whose built-in match
requires one exact destination address, or whose tcp/udp match requires one exact destination
port, is filed under that key; every other rule is "generic" and always tried. The walker
evaluates, in order, the generic rules plus those filed under the packet's own keys; the rest
cannot match (their required value differs), which the trace states in one step.
Destination address and port cannot change inside one chain walk (NAT applies after it), so
the candidate list stays valid for the whole chain.
"""

from __future__ import annotations

import heapq
import ipaddress
from dataclasses import dataclass, field

from nflens.ir.packet import Packet
from nflens.ir.rules import Chain, NftCmp, NftExpr, Rule, XtMatch

MIN_RULES = 16  # below this, indexing costs more than it saves


@dataclass
class ChainIndex:
    generic: list[int] = field(default_factory=list)
    by_dst: dict = field(default_factory=dict)
    by_dport: dict = field(default_factory=dict)

    def candidates(self, pkt: Packet | None) -> list[int]:
        if pkt is None:
            return self.generic
        lists = [self.generic]
        hit = self.by_dst.get(pkt.dst)
        if hit:
            lists.append(hit)
        hit = self.by_dport.get((pkt.proto, pkt.dport))
        if hit:
            lists.append(hit)
        if len(lists) == 1:
            return self.generic
        return list(heapq.merge(*lists))


def _nft_key(e: NftCmp):
    """`ip daddr 172.17.0.2` -> ('dst', addr); `tcp dport 8080` -> ('dport', ('tcp', 8080)):
    the same exact keys in Docker 29's nftables chains (its dnat and raw-drop chains hold one
    rule per published port / container, like the iptables ones)."""
    left = e.left
    if e.op != "==" or not isinstance(left, NftExpr) or left.kind != "payload":
        return None
    proto, fld = left.get("protocol"), left.get("field")
    if proto in ("ip", "ip6") and fld == "daddr" and isinstance(e.right, str) \
            and "/" not in e.right and "-" not in e.right:
        try:
            return ("dst", ipaddress.ip_address(e.right))
        except ValueError:
            return None
    if proto in ("tcp", "udp") and fld == "dport" and isinstance(e.right, int) \
            and not isinstance(e.right, bool):
        return ("dport", (proto, e.right))
    return None


def _key(rule: Rule):
    """('dst', addr) or ('dport', (proto, port)) when the rule can only match that, else None."""
    proto = None
    dport_key = None
    for e in rule.exprs:
        if isinstance(e, NftCmp):
            key = _nft_key(e)
            if key and key[0] == "dst":
                return key
            dport_key = dport_key or (key[1] if key else None)
            continue
        if not isinstance(e, XtMatch):
            break  # stop at the first action: later matches (nft) need not hold
        if e.name == "ip":
            for o in e.opts:
                if o.name == "dst" and not o.negated and hasattr(o.value, "prefixlen") \
                        and o.value.prefixlen == o.value.max_prefixlen:
                    return ("dst", o.value.network_address)
                if o.name == "proto" and not o.negated:
                    proto = o.value
        elif e.name in ("tcp", "udp") and proto == e.name:
            opt = e.get("dport")
            if opt is not None and not opt.negated and opt.value[0] == opt.value[1]:
                dport_key = (e.name, opt.value[0])
    return ("dport", dport_key) if dport_key else None


def build(chain: Chain) -> ChainIndex | None:
    if len(chain.rules) < MIN_RULES:
        return None
    index = ChainIndex()
    for pos, rule in enumerate(chain.rules):
        key = _key(rule)
        if key is None:
            index.generic.append(pos)
        elif key[0] == "dst":
            index.by_dst.setdefault(key[1], []).append(pos)
        else:
            index.by_dport.setdefault(key[1], []).append(pos)
    if len(index.generic) == len(chain.rules):
        return None
    return index
