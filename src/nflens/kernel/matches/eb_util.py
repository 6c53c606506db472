"""Helpers shared by the ebtables match modules (no NAMES: registers nothing).

ebtables negates per option (`NF_INVF(info, FLAG, cond)` in net/bridge/netfilter/ebt_*.c is
`cond ^ !!(invflags & FLAG)`), so every helper takes an `Opt` and applies its own `negated`.
"""

from __future__ import annotations

from nflens.ir.rules import Opt
from nflens.kernel.context import MatchResult, Unknown

NAMES: tuple[str, ...] = ()


def inv(opt: Opt, cond: bool) -> bool:
    """The option's test with its `!` applied (NF_INVF, inverted: True means 'matches')."""
    return cond != opt.negated


def mac_masked_equal(mac: str | None, want: tuple[str, str]) -> MatchResult:
    """ether_addr_equal_masked(): (mac ^ want) & mask == 0, byte by byte."""
    if mac is None:
        return Unknown("the frame's MAC address is not in the snapshot")
    value, mask = want
    try:
        got = bytes.fromhex(mac.replace(":", ""))
    except ValueError:
        return Unknown(f"malformed MAC {mac!r}")
    want_b, mask_b = bytes.fromhex(value.replace(":", "")), bytes.fromhex(mask.replace(":", ""))
    return all((g ^ w) & m == 0 for g, w, m in zip(got, want_b, mask_b))


def in_range(value: int | None, rng: tuple[int, int]) -> MatchResult:
    if value is None:
        return Unknown("the packet has no such field")
    return rng[0] <= value <= rng[1]


def apply(opt: Opt, result: MatchResult) -> MatchResult:
    """`inv` for a result that may be Unknown."""
    if isinstance(result, Unknown):
        return result
    return inv(opt, bool(result))
