"""ebtables `--mark` (net/bridge/netfilter/ebt_mark_m.c, ebt_mark_mt).

`--mark V[/M]`: (skb->mark & M) == V. `--mark /M` (EBT_MARK_OR): any bit of M set. The parser
gives (V, M), with V None for the second form; `!` inverts either.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext
from nflens.kernel.matches.eb_util import inv

DIALECT = "eb"
NAMES = ("eb_mark",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    opt = match.get("mark")
    if opt is None:
        return True
    value, mask = opt.value
    if value is None:
        return inv(opt, (ctx.mark & mask) != 0)
    return inv(opt, (ctx.mark & mask) == value)
