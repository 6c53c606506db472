"""ebtables `--limit` (net/bridge/netfilter/ebt_limit.c): a token bucket over time.

Whether a given frame is within the rate depends on the traffic before it, which a single-flow
simulation does not know: Unknown, naming the rate.
"""

from __future__ import annotations

from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown

DIALECT = "eb"
NAMES = ("eb_limit",)


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    rate = match.get("rate")
    what = f"{rate.value[0]}/{rate.value[1]}" if rate is not None else "default rate"
    return Unknown(f"ebtables --limit {what}: depends on earlier traffic")
