"""-m tcp / -m udp / -m sctp ports and TCP flags (net/netfilter/xt_tcpudp.c)."""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region

from ._xt_util import all_opts, constrain_by_evaluation, in_range

DIALECT = "xt"
NAMES = ("tcp", "udp", "sctp")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    pkt = ctx.pkt
    if pkt is None or pkt.proto != match.name:
        return False  # the kernel's tcp_mt only sees its own protocol (rule has -p)

    def test(opt: Opt) -> MatchResult:
        if opt.name in ("sport", "source-port"):
            return in_range(pkt.sport, opt.value)
        if opt.name in ("dport", "destination-port"):
            return in_range(pkt.dport, opt.value)
        if opt.name == "tcp-flags":
            mask, comp = opt.value
            return (pkt.tcp_flags & mask) == comp
        if opt.name == "syn":
            return pkt.tcp_flags & {"SYN", "RST", "ACK", "FIN"} == {"SYN"}
        return Unknown(f"-m {match.name} --{opt.name} is not modelled")

    return all_opts(match, test)


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The symbolic side: no address options, so the truth on the fixed fields."""
    return constrain_by_evaluation(evaluate, match, ctx)
