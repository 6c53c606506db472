"""The one integer-range algebra (kernel/region.py: merge, subtract, complement, Region's
intersection) against sets of integers, on a small axis where the sets can be enumerated.

analysis/partition.py (exposure cells, readable address sets) and symbolic/matrix.py (the
service matrix's classes, ipassmt's all_but_those_ips) are built on these; each had its own
copy before (issue 17 item 3). Deterministic in CI through the hypothesis profile."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from nflens.kernel.region import EMPTY, Region, complement, merge, subtract

TOP = 63  # a 6-bit address axis: every set is enumerable

ranges = st.lists(st.tuples(st.integers(0, TOP), st.integers(0, TOP)).map(sorted).map(tuple),
                  max_size=6)


def members(rs: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> set[int]:
    return {x for lo, hi in rs for x in range(lo, hi + 1)}


def canonical(rs: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> bool:
    """Sorted, disjoint and not adjacent: the form every operation hands back."""
    return all(a[1] + 1 < b[0] for a, b in zip(rs, rs[1:])) and all(lo <= hi for lo, hi in rs)


@given(ranges)
@example([(5, 9), (1, 4), (20, 30)])
@example([(0, 63), (3, 4)])
def test_merge_is_the_union_in_canonical_form(a):
    out = merge(a)
    assert members(out) == members(a)
    assert canonical(out)


@given(ranges, ranges)
@example([(0, 10)], [(3, 3), (5, 6)])
@example([(0, 10)], [(0, 63)])
def test_subtract_is_the_set_difference(a, b):
    out = subtract(a, b)
    assert members(out) == members(a) - members(b)
    assert canonical(out)


@given(ranges)
@example([])
@example([(0, TOP)])
@example([(7, 9), (8, 20)])  # overlapping and unsorted input, as ipassmt lists come
def test_complement_is_the_rest_of_the_axis(a):
    out = complement(a, TOP)
    assert members(out) == set(range(TOP + 1)) - members(a)
    assert canonical(out)


@given(ranges, ranges)
def test_region_intersection_is_the_set_intersection(a, b):
    ra, rb = Region(src=tuple(merge(a))), Region(src=tuple(merge(b)))
    both = ra & rb
    common = members(a) & members(b)
    if not common:
        assert both == EMPTY
    else:
        assert both.src is not None and members(both.src) == common
