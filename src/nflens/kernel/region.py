"""The symbolic side of a match: which source/destination addresses it accepts, for a packet
whose other fields are fixed. It lives in the kernel beside `MatchResult` because the match
modules build it; the symbolic layer (symbolic/matrix.py) only combines regions.

The integer-range algebra every address set is built with lives here too, once (the kernel
layer, because the match modules use it and the kernel imports nothing above it): `merge`
(union), `subtract`, `complement`, and `Region`'s intersection. analysis/partition.py and
symbolic/matrix.py use these; the top of an address axis is `ir.packet.max_address`.

A Region is a conjunction: source intervals, destination intervals (None = any), and the
conditions that could not be decided (`unknown`, named), or `empty`. The match modules build
them (`constrain(match, ctx)` next to `evaluate`): address options become intervals, every
other option is decided by the module's own `evaluate` on the fixed fields — one semantics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nflens.kernel.context import Unknown

Intervals = tuple[tuple[int, int], ...]


def merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of inclusive integer ranges: sorted, disjoint, overlapping or adjacent ones
    joined."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def subtract(a: Iterable[tuple[int, int]],
             b: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Integer ranges in `a` and not in `b` (sorted and disjoint). One sweep over both
    sorted lists: each range of `b` is passed once (scanning all of `b` for every range of
    `a` made an audit of a 20,000-entry ipset quadratic)."""
    out = []
    bs = merge(b)
    j = 0
    for lo, hi in merge(a):
        while j < len(bs) and bs[j][1] < lo:
            j += 1
        cur, k = lo, j
        while k < len(bs) and bs[k][0] <= hi:
            blo, bhi = bs[k]
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return out


def _intersect(a: Intervals | None, b: Intervals | None) -> Intervals | None:
    if a is None:
        return b
    if b is None:
        return a
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def complement(a: Iterable[tuple[int, int]], top: int) -> Intervals:
    """The ranges of 0..top that `a` does not cover (the axis of one IP version, `top` its
    `max_address`)."""
    return tuple(subtract(((0, top),), a))


@dataclass(frozen=True)
class Region:
    src: Intervals | None = None
    dst: Intervals | None = None
    unknown: tuple[str, ...] = ()
    empty: bool = False

    def __and__(self, other: Region) -> Region:
        if self.empty or other.empty:
            return EMPTY
        src, dst = _intersect(self.src, other.src), _intersect(self.dst, other.dst)
        if src == () or dst == ():
            return EMPTY
        return Region(src, dst, self.unknown + other.unknown)


FULL = Region()
EMPTY = Region(empty=True)


def unknown(reason: str) -> Region:
    return Region(unknown=(reason,))


def addresses(field: str, lo: int, hi: int, negated: bool, top: int) -> Region:
    ivs: Intervals = ((lo, hi),)
    if negated:
        ivs = complement(ivs, top)
    if not ivs:
        return EMPTY
    return Region(src=ivs) if field == "src" else Region(dst=ivs)


class NullHost:
    """The host model of a symbolic question, which has no host: every lookup is Unknown, so a
    match that depends on the host (addrtype, fib, sets) is unknown instead of decided for
    some made-up host. `constrain` contexts carry it where `evaluate` contexts carry a real one."""

    def addr_type(self, addr: Any, iface: str | None = None) -> Unknown:
        return Unknown("the address type (needs the host's routes)")

    def route_oif(self, dst: Any, src: Any = None, iif: str | None = None,
                  mark: int = 0, proto: int = 0, via: str | None = None) -> Unknown:
        return Unknown("the route (needs the host's routes)")

    def route_type(self, dst: Any, src: Any = None, iif: str | None = None,
                   mark: int = 0) -> Unknown:
        return Unknown("the route (needs the host's routes)")

    def set_elements(self, family: str, table: str, name: str) -> None:
        return None  # "not in the snapshot": matches already say Unknown for it

    def ipset(self, name: str) -> Unknown:
        return Unknown(f"the contents of ipset {name} (needs the host's ipsets)")

    def interface_kind(self, name: str) -> None:
        return None

    def interface_index(self, name: str) -> Unknown:
        return Unknown("the interface index (needs the host's interfaces)")

    def interface_group(self, name: str) -> Unknown:
        return Unknown("the interface group (needs the host's interfaces)")

    def tproxy_socket(self, proto: str, laddr: Any, lport: int, iif: str | None,
                      dst: Any) -> Unknown:
        return Unknown("the TPROXY listener (needs the host's sockets)")


NULL_HOST = NullHost()
