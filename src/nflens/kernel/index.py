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

A real host's DOCKER-USER is an allow-list of `-m conntrack --ctorigdstport P -j ACCEPT`
(DNAT rewrote the port already, seed 004), one rule per allowed published port: such a rule
can only match a packet whose conntrack entry's original destination port is P
(xt_conntrack.c: conntrack_mt_origdst port check; no entry, or an untracked one, matches no
--ctorig* option), so it is filed under ("ctorigdport", P). The conntrack entry does not
change inside a chain walk either.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Hashable
from dataclasses import dataclass, field

from nflens.ir.rules import Chain, NftCmp, NftExpr, Rule, XtMatch
from nflens.kernel.context import PacketContext

MIN_RULES = 8  # below this, indexing costs more than it saves (Docker 28 writes one rule
# per network in DOCKER-CT and DOCKER-BRIDGE: 10 networks are 10 rules walked per packet)
MEMO_SIZE = 4096  # candidate lists remembered per chain (an audit tries many sources)

# (kind, value): a rule's one required value, e.g. ("dport", ("tcp", 8080))
IndexKey = tuple[str, Hashable]
# a packet's values of every kind: (dst, proto, dport, ct_dport, iif, oif)
PacketKey = tuple[Hashable, ...]


@dataclass
class ChainIndex:
    """Rule positions by the one exact value each rule requires (`by[kind][value]`), and the
    generic rest. Kinds: dst, dport (proto, port), ctorigdport, iif, oif."""

    generic: list[int] = field(default_factory=list)
    by: dict[str, dict[Hashable, list[int]]] = field(default_factory=dict)
    size: int = 0
    _memo: dict[PacketKey, list[int]] = field(default_factory=dict)

    def candidates(self, ctx: PacketContext) -> list[int]:
        pkt, ct = ctx.pkt, ctx.ct
        if pkt is None:
            return self.generic
        # the devices as the rules read them: in the bridge family nft's iifname/oifname are
        # the bridge ports (nft_meta_bridge.c); iptables' -i/-o never run there
        iif, oif = (ctx.physin or ctx.iif, ctx.physout or ctx.oif) if ctx.family == "bridge" \
            else (ctx.iif, ctx.oif)
        if not (_plain(iif) and _plain(oif)):
            # an interface left open (a symbolic question): its rules must be evaluated
            return list(range(self.size))
        ct_dport = ct.orig_dport if ct is not None and ct.state != "UNTRACKED" else None
        key = (pkt.dst, pkt.proto, pkt.dport, ct_dport, iif, oif)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            hit = self._memo[key] = self._merge(key)
        return hit

    def _merge(self, key: PacketKey) -> list[int]:
        dst, proto, dport, ct_dport, iif, oif = key
        lists = [self.generic]
        for kind, value in (("dst", dst), ("dport", (proto, dport)),
                            ("ctorigdport", ct_dport), ("iif", iif), ("oif", oif)):
            table = self.by.get(kind)
            found = table.get(value) if table and value is not None else None
            if found:
                lists.append(found)
        if len(lists) == 1:
            return self.generic
        return list(heapq.merge(*lists))


def _plain(name: object) -> bool:
    return name is None or isinstance(name, str)


def _nft_key(e: NftCmp) -> IndexKey | None:
    """The same exact keys in nftables rules: `ip daddr 172.17.0.2` -> ('dst', addr), `tcp
    dport 8080` -> ('dport', ('tcp', 8080)) (Docker 29's dnat and raw-drop chains hold one
    rule per published port / container, like the iptables ones), `ct original proto-dst
    8080` -> ('ctorigdport', 8080) (an admin's allow-list; no entry reads as missing and the
    rule breaks, nft_ct.c), `iifname "eth0"` / `oifname "br-x"` -> ('iif'/'oif', name) for a
    plain non-empty name (no device reads as "", which no such name equals; a wildcard or
    escape is left generic)."""
    left = e.left
    if e.op != "==" or not isinstance(left, NftExpr):
        return None
    if left.kind == "ct":
        if left.get("key") == "proto-dst" and left.get("dir") in (None, "original") \
                and isinstance(e.right, int) and not isinstance(e.right, bool):
            return ("ctorigdport", e.right)
        return None
    if left.kind == "meta":
        key = left.get("key")
        if key in ("iifname", "oifname") and isinstance(e.right, str) and e.right \
                and not any(ch in e.right for ch in "*\\[?"):
            return ("iif" if key == "iifname" else "oif", e.right)
        return None
    if left.kind != "payload":
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


def _key(rule: Rule) -> IndexKey | None:
    """(kind, value) when the rule can only match packets with that value, else None; the
    most selective kind wins: dst, dport, ctorigdport, then the devices (Docker 20.10's
    FORWARD and isolation chains hold four rules per bridge, `-o br-X`, `-i br-X ! -o br-X`)."""
    proto = None
    found: dict[str, Hashable] = {}
    for e in rule.exprs:
        if isinstance(e, NftCmp):
            key = _nft_key(e)
            if key:
                found.setdefault(*key)
            continue
        if not isinstance(e, XtMatch):
            break  # stop at the first action: later matches (nft) need not hold
        if e.name == "ip":
            for o in e.opts:
                if o.negated:
                    continue
                if o.name == "dst" and hasattr(o.value, "prefixlen") \
                        and o.value.prefixlen == o.value.max_prefixlen:
                    found.setdefault("dst", o.value.network_address)
                elif o.name == "proto":
                    proto = o.value
                elif o.name in ("in", "out") and isinstance(o.value, str) \
                        and not o.value.endswith("+"):
                    found.setdefault("iif" if o.name == "in" else "oif", o.value)
        elif e.name in ("tcp", "udp") and proto == e.name:
            opt = e.get("dport")
            if opt is not None and not opt.negated and opt.value[0] == opt.value[1]:
                found.setdefault("dport", (e.name, opt.value[0]))
        elif e.name == "conntrack":
            opt = e.get("ctorigdstport")
            if opt is not None and not opt.negated and opt.value[0] == opt.value[1]:
                found.setdefault("ctorigdport", opt.value[0])
    for kind in KINDS:
        if kind in found:
            return kind, found[kind]
    return None


KINDS = ("dst", "dport", "ctorigdport", "iif", "oif")


_BUILT: dict[int, tuple[Chain, ChainIndex | None]] = {}


def build(chain: Chain) -> ChainIndex | None:
    """The index of a chain, built once per chain object: the hosts an audit makes to verify
    fixes share every chain the fix did not touch (chains are frozen), and rebuilt the
    indexes of all of them each time. The chain is kept with its index, so its id is not
    reused while it is cached."""
    hit = _BUILT.get(id(chain))
    if hit is not None and hit[0] is chain:
        return hit[1]
    if len(_BUILT) >= 4096:
        _BUILT.clear()
    index = _build(chain)
    _BUILT[id(chain)] = (chain, index)
    return index


def _build(chain: Chain) -> ChainIndex | None:
    if len(chain.rules) < MIN_RULES:
        return None
    index = ChainIndex(size=len(chain.rules))
    for pos, rule in enumerate(chain.rules):
        key = _key(rule)
        if key is None:
            index.generic.append(pos)
        else:
            index.by.setdefault(key[0], {}).setdefault(key[1], []).append(pos)
    if len(index.generic) == len(chain.rules):
        return None
    return index
