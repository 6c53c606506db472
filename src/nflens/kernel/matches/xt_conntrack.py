"""-m conntrack and -m state (net/netfilter/xt_conntrack.c, xt_state.c).

Without a conntrack entry the state is INVALID (nf_ct_get returns NULL); a NOTRACKed packet is
UNTRACKED. --ctorig*/--ctrepl* compare the entry's tuples, which DNAT does not rewrite on the
original side: the reason `--ctorigdstport 8080` matches a published port after DNAT.
SNAT/DNAT as ctstate are the "virtual states" derived from the status bits.
"""

from __future__ import annotations

import ipaddress

from nflens.ir.packet import IPAddress
from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_unknown_opts, in_range

DIALECT = "xt"
NAMES = ("conntrack", "state")


def _states(ctx: PacketContext) -> set[str]:
    ct = ctx.ct
    if ct is None:
        return {"INVALID"}
    states = {ct.state}
    if "SNAT" in ct.status or (ct.reply_dst is not None and ct.orig_src != ct.reply_dst):
        states.add("SNAT")
    if "DNAT" in ct.status or (ct.reply_src is not None and ct.orig_dst != ct.reply_src):
        states.add("DNAT")
    return states


def _addr_in(addr: IPAddress | None,
             net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return addr is not None and addr.version == net.version and addr in net


STATE_OPTS = ("ctstate", "state")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    ct = ctx.ct
    if ct is None or ct.state == "UNTRACKED":
        return _without_entry(match, ctx)

    def test(opt: Opt) -> MatchResult:
        n = opt.name
        if n in STATE_OPTS:
            return bool(_states(ctx) & opt.value)
        assert ct is not None  # narrowed above; mypy does not carry it into the closure
        if n == "ctstatus":
            return bool(set(ct.status) & opt.value)
        if n == "ctdir":
            return ct.direction == opt.value
        if n == "ctproto":
            return ct.proto == opt.value.lower()
        fields = {"ctorigsrc": ct.orig_src, "ctorigdst": ct.orig_dst, "ctreplsrc": ct.reply_src,
                  "ctrepldst": ct.reply_dst}
        if n in fields:
            return _addr_in(fields[n], opt.value)
        ports = {"ctorigsrcport": ct.orig_sport, "ctorigdstport": ct.orig_dport,
                 "ctreplsrcport": ct.reply_sport, "ctrepldstport": ct.reply_dport}
        if n in ports:
            return in_range(ports[n], opt.value)
        return Unknown(f"-m conntrack --{n} is not modelled")

    return all_opts(match, test)


def _without_entry(match: XtMatch, ctx: PacketContext) -> MatchResult:
    """No entry (nf_ct_get returns NULL: none yet, INVALID, or NOTRACK's IP_CT_UNTRACKED):
    conntrack_mt (net/netfilter/xt_conntrack.c) tests --ctstate, its `!` applied, and then
    `if (ct == NULL) return info->match_flags & XT_CONNTRACK_STATE;` — every other option,
    negated or not, is never looked at: `! --ctstatus ASSURED` does not match an untracked
    packet (fuzz case 20261207-2444), `--ctstate INVALID --ctdir REPLY` matches one with no
    entry."""
    states = tuple(o for o in match.opts if o.name in STATE_OPTS)
    if not states:
        return False
    return all_opts(XtMatch(match.name, states), lambda opt: bool(_states(ctx) & opt.value))


TUPLE_ADDRESSES = {n: "the connection's tuple, not the packet's own address (NAT rewrites one "
                   "and not the other)" for n in ("ctorigsrc", "ctorigdst", "ctreplsrc",
                                                  "ctrepldst")}


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: the tuple addresses are unknown (never decided at a placeholder
    address), the rest is the truth on the fixed fields."""
    return constrain_unknown_opts(match, ctx, evaluate, TUPLE_ADDRESSES)
