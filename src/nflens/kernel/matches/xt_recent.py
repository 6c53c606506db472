"""-m recent (net/netfilter/xt_recent.c): `ufw limit`, SSH brute-force guards, port knocking.

The lists are state the snapshot does not have (/proc/net/xt_recent/*). A flow is simulated the
way conntrack is: as a connection of its own from a quiet source — the lists hold nothing of it
before this flow, and the flow's own packets add to them. So `ufw limit`'s
`--set` then `--update --seconds 30 --hitcount 6` lets a lone connection through, as the kernel
does (lab: ufw_docker, `ufw limit 8000/tcp`); the assumption is stated with the verdict.

recent_mt() (kernel 6.x), literally: `ret` starts as the inversion; a source without an entry
matches only `--set` (which creates the entry with one stamp); with an entry, `--set` matches,
`--remove` matches and removes it, `--rcheck`/`--update` match when `--hitcount` stamps (any
number without it) fall in `--seconds` (all of one flow's do: it lasts milliseconds); `--set`
and a *matching* `--update` add a stamp. `--rsource` (default) keys by source, `--rdest` by
destination, each masked by `--mask`. The per-flow lists come with the packet context
(`extra["recent"]`); without them (the symbolic side) the match is Unknown.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import constrain_by_evaluation, unknown

DIALECT = "xt"
NAMES = ("recent",)
ASSUMED = ("-m recent: the lists are assumed to hold nothing of this source before the flow "
           "(a lone connection: a rate limit such as `ufw limit` is not reached)")


@dataclass
class RecentLists:
    """The xt_recent lists of one simulated flow: (list name, family, masked address) -> stamps."""

    assumed: list[str]
    stamps: dict[tuple[str, int, str], int] = field(default_factory=dict)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    lists = dict(ctx.extra).get("recent")
    pkt = ctx.pkt
    if pkt is None:
        return False
    if not isinstance(lists, RecentLists):
        return unknown(match, "the recent lists are runtime state the snapshot lacks")
    opts = {o.name: o for o in match.opts}
    if "rttl" in opts:  # the TTL of the packet that made the entry: not modelled
        return unknown(match, "--rttl is not modelled")
    key = _key(opts, pkt)
    if ASSUMED not in lists.assumed:
        lists.assumed.append(ASSUMED)
    invert = any(o.negated for o in match.opts if o.name in ("set", "rcheck", "update", "remove"))
    ret = invert
    have = lists.stamps.get(key)
    if have is None:
        if "set" in opts:
            lists.stamps[key] = 1
            ret = not ret
        return ret
    if "set" in opts:
        ret = not ret
    elif "remove" in opts:
        del lists.stamps[key]
        return not ret
    elif "rcheck" in opts or "update" in opts:
        hit_count = int(opts["hitcount"].value) if "hitcount" in opts else 0
        if not hit_count or have >= hit_count:
            ret = not ret
    if "set" in opts or ("update" in opts and ret):
        lists.stamps[key] = have + 1
    return ret


def _key(opts: dict[str, Any], pkt: Packet) -> tuple[str, int, str]:
    addr = pkt.dst if "rdest" in opts else pkt.src
    ip = ipaddress.ip_address(str(addr))
    name = str(opts["name"].value) if "name" in opts else "DEFAULT"
    if "mask" in opts:
        mask = int(ipaddress.ip_address(str(opts["mask"].value)))
        ip = ipaddress.ip_address(int(ip) & mask) if ip.version == 4 else \
            ipaddress.IPv6Address(int(ip) & mask)
    return name, ip.version, str(ip)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side has no per-flow lists: Unknown (by evaluate) unless it brings them."""
    return constrain_by_evaluation(evaluate, match, ctx)


__all__ = ["RecentLists", "evaluate", "constrain", "Unknown"]
