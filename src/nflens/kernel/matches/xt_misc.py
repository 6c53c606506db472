"""Small matches decidable from the packet context: comment, mark, physdev, iprange, mac,
pkttype, owner, length, ttl/hl (xt_comment.c, xt_mark.c, xt_physdev.c, xt_iprange.c, xt_mac.c,
xt_pkttype.c, xt_owner.c, xt_length.c, ipt_ttl.c/ip6t_hl.c)."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_opts, iface_match, in_range, unknown

DIALECT = "xt"
NAMES = ("comment", "mark", "physdev", "iprange", "mac", "pkttype", "owner", "length", "ttl", "hl",
         "connmark")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return _EVAL[match.name](match, ctx)


def _comment(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return True


def _mark(match: XtMatch, ctx: PacketContext) -> MatchResult:
    def test(opt: Opt) -> MatchResult:
        v, m = opt.value
        return (ctx.mark & m) == v
    return all_opts(match, test)


def _connmark(match: XtMatch, ctx: PacketContext) -> MatchResult:
    ct = ctx.ct
    if ct is None:
        return False

    def test(opt: Opt) -> MatchResult:
        v, m = opt.value
        return (ct.mark & m) == v
    return all_opts(match, test)


def _physdev(match: XtMatch, ctx: PacketContext) -> MatchResult:
    def test(opt: Opt) -> MatchResult:
        n = opt.name
        if n == "physdev-in":
            return iface_match(opt.value, ctx.physin)
        if n == "physdev-out":
            return iface_match(opt.value, ctx.physout)
        if n == "physdev-is-in":
            return ctx.physin is not None
        if n == "physdev-is-out":
            return ctx.physout is not None
        if n == "physdev-is-bridged":
            return ctx.bridged and ctx.physout is not None
        return Unknown(f"-m physdev --{n}")
    if not ctx.bridged and ctx.physin is None:
        # not a bridged packet: only negated options can match (xt_physdev.c: !skb->nf_bridge)
        return all(o.negated for o in match.opts)
    return all_opts(match, test)


def _iprange(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if not pkt:
        return False

    def test(opt: Opt) -> MatchResult:
        lo, hi = opt.value
        addr = pkt.src if opt.name == "src-range" else pkt.dst
        return addr.version == lo.version and lo <= addr <= hi
    return all_opts(match, test)


def _mac(match: XtMatch, ctx: PacketContext) -> MatchResult:
    def test(opt: Opt) -> MatchResult:
        if ctx.src_mac is None:
            return Unknown("-m mac: the frame's source MAC is not known")
        return ctx.src_mac.lower() == opt.value
    return all_opts(match, test)


def _pkttype(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return all_opts(match, lambda opt: ctx.pkttype == {"unicast": "host"}.get(opt.value, opt.value))


def _owner(match: XtMatch, ctx: PacketContext) -> MatchResult:
    reason = ctx.owner_unknown
    if reason is not None:  # a socket exists, its owner is not known
        return all_opts(match, lambda opt: True if opt.name == "socket-exists"
                        else unknown(match, reason))
    if ctx.uid is None:
        return False  # no local socket: xt_owner does not match forwarded packets

    suppl = match.get("suppl-groups") is not None

    def test(opt: Opt) -> MatchResult:
        if opt.name == "uid-owner":
            return in_range(ctx.uid, opt.value)
        if opt.name == "gid-owner":
            if suppl and not in_range(ctx.gid, opt.value):
                # xt_owner.c also searches the supplementary groups, which no snapshot has
                return unknown(match, "--suppl-groups: the socket owner's supplementary "
                               "groups are not known")
            return in_range(ctx.gid, opt.value)
        if opt.name in ("socket-exists", "suppl-groups"):
            return True  # a socket exists (ctx.uid is set); suppl-groups modifies --gid-owner
        return unknown(match, f"option --{opt.name} is not modelled")  # never read as true
    return all_opts(match, test)


def _length(match: XtMatch, ctx: PacketContext) -> MatchResult:
    return all_opts(match, lambda opt: ctx.pkt is not None and in_range(ctx.pkt.length, opt.value))


def _ttl(match: XtMatch, ctx: PacketContext) -> MatchResult:
    def test(opt: Opt) -> MatchResult:
        ttl = ctx.pkt.ttl if ctx.pkt else None
        if ttl is None:
            return False
        kind = opt.name.split("-")[1]
        return {"eq": ttl == opt.value, "lt": ttl < opt.value, "gt": ttl > opt.value}[kind]
    return all_opts(match, test)


_EVAL = {"comment": _comment, "mark": _mark, "physdev": _physdev, "iprange": _iprange,
         "mac": _mac, "pkttype": _pkttype, "owner": _owner, "length": _length, "ttl": _ttl,
         "hl": _ttl, "connmark": _connmark}


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: the addresses this match accepts, the rest decided by evaluate."""
    return constrain_opts(match, ctx, evaluate, {"src-range": "src", "dst-range": "dst"})
