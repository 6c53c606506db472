"""Read fffuu's own output (../shared/corpus/fffuu-oracle/*.out): the service matrices it
printed, as address ranges per class and edges, and compare relations exactly."""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from pathlib import Path

HEADER = re.compile(r"^=========== TCP port (\d+)->(\d+) =========$")


def _addr(text: str) -> int:
    return int(ipaddress.ip_address(text.strip()))


def parse(path: Path) -> dict[int, tuple[dict[str, list[tuple[int, int]]], set[tuple[str, str]]]]:
    """dport -> (class -> ranges, edges); empty when fffuu printed no matrix."""
    out = {}
    current = None
    for line in path.read_text(errors="replace").splitlines():
        m = HEADER.match(line)
        if m:
            current = ({}, set())
            out[int(m.group(2))] = current
            continue
        if current is None:
            continue
        if "|->" in line:
            name, _, rest = line.partition("|->")
            ranges = []
            for part in rest.split(" u "):
                part = part.strip().strip("{}")
                lo, _, hi = part.partition(" .. ")
                ranges.append((_addr(lo), _addr(hi or lo)))
            current[0][name.strip()] = ranges
        elif line.startswith("(") and line.endswith(")"):
            a, b = line[1:-1].split(",")
            current[1].add((a, b))
    return out


def relation_diff(ours: dict, theirs: dict, top: int) -> list[str]:
    """Compare two relations given as (class -> ranges, edges), on their common refinement."""
    cuts = {0}
    for classes, _ in (ours, theirs):
        for ranges in classes.values():
            for lo, hi in ranges:
                cuts.add(lo)
                if hi < top:
                    cuts.add(hi + 1)
    cuts = sorted(cuts)

    def labels(classes):
        lab = [None] * len(cuts)
        for name, ranges in classes.items():
            for lo, hi in ranges:
                i, j = bisect_right(cuts, lo) - 1, bisect_right(cuts, hi) - 1
                for k in range(i, j + 1):
                    lab[k] = name
        return lab

    la, lb = labels(ours[0]), labels(theirs[0])
    if None in la or None in lb:
        return ["a partition does not cover the whole space"]
    pairs_a = {(x, y) for x, y in ours[1]}
    pairs_b = {(x, y) for x, y in theirs[1]}
    # distinct (label-in-a, label-in-b) combinations are enough: atoms with both labels equal
    # behave alike in both relations
    combos = sorted(set(zip(la, lb)))
    where = {c: cuts[[*zip(la, lb)].index(c)] for c in combos}
    diffs = []
    for ca in combos:
        for cb in combos:
            a = (ca[0], cb[0]) in pairs_a
            b = (ca[1], cb[1]) in pairs_b
            if a != b:
                diffs.append(f"{ipaddress.ip_address(where[ca]) if top < 2**33 else where[ca]} -> "
                             f"{ipaddress.ip_address(where[cb]) if top < 2**33 else where[cb]}: "
                             f"ours {a}, fffuu {b}")
    return diffs
