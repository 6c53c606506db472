"""Exact answers over the whole source-address space by refining a partition.

Why this representation (atomic predicates over one field, refined on demand) rather than a
full symbolic walk: the simulator already is the one semantics of every match, target, NAT
point, conntrack step, route lookup and bridge/ARP step; an exposure question fixes everything
but the client's address (interface, destination, port, protocol). Every construct that looks
at that address compares it with constants — prefixes, addresses, ranges, set elements, route
prefixes, the host's own addresses — so its truth is constant between consecutive constants.

`refine()` keeps a list of address intervals (cells). For a cell it simulates one member and
collects the constants of every rule that packet's journey touched, in both directions (plus
the rules the index skipped on the reply leg, whose destination is the client's address). If
a constant falls inside the cell, the cell is split there and each part is examined again;
otherwise every member of the cell takes the very path the representative took — each match
on the path has the same truth for all of them — so the cell's verdict is exact. The loop ends
because each split uses a constant of the ruleset and there are finitely many.

The cost is one simulation per final cell; on Docker-style rulesets the journey of one flow
touches a handful of rules, so a published port usually needs a few cells.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nflens.ir.host import Host
from nflens.ir.ipset import IpSet
from nflens.ir.netmask import MaskedNetwork
from nflens.ir.packet import max_address
from nflens.ir.rules import Rule, Ruleset, XtMatch
from nflens.kernel.region import merge, subtract  # the one range algebra; also named from here
from nflens.kernel.simulate import FlowResult
from nflens.kernel.trace import RuleStep

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
TOP = {4: max_address(4), 6: max_address(6)}


@dataclass(frozen=True)
class Cell:
    """Addresses lo..hi (integers) of one IP version, with the verdict of all of them."""

    version: int
    lo: int
    hi: int
    result: FlowResult

    def first(self) -> IPAddress:
        return ipaddress.ip_address(self.lo) if self.version == 4 else \
            ipaddress.IPv6Address(self.lo)

    def cidrs(self) -> list[str]:
        return cidrs_of(self.version, [(self.lo, self.hi)])


def _addr(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def cidrs_of(version: int, ranges: Iterable[tuple[int, int]]) -> list[str]:
    """Minimal CIDR list covering the union of integer ranges (merged first)."""
    out: list[str] = []
    for lo, hi in merge(ranges):
        out += [str(n) for n in ipaddress.summarize_address_range(_addr(version, lo),
                                                                  _addr(version, hi))]
    return out


# --- constants ----------------------------------------------------------------------------

def _points(value: Any, version: int, out: set[int]) -> None:
    """Split points of every address-like constant inside `value`, recursively."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        if value.version == version:
            out.add(int(value.network_address))
            out.add(int(value.broadcast_address) + 1)
    elif isinstance(value, MaskedNetwork):  # a non-contiguous mask: every interval's ends
        for lo, hi in (value.intervals() or ()) if value.version == version else ():
            out.update((lo, hi + 1))
    elif isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        _points(value.network, version, out)
        _points(value.ip, version, out)
    elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        if value.version == version:
            out.add(int(value))
            out.add(int(value) + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _points(v, version, out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _points(v, version, out)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _points(getattr(value, name), version, out)
    elif isinstance(value, str) and ("." in value or ":" in value) and len(value) < 50:
        try:
            _points(ipaddress.ip_network(value, strict=False), version, out)
        except ValueError:
            pass


def _ipset_names(rule: Rule) -> list[str]:
    return [o.value[0] for e in rule.exprs if isinstance(e, XtMatch) and e.name == "set"
            for o in e.opts if o.name == "match-set"]


# Membership classes (issue 25): the addresses of a CrowdSec or fail2ban set are constants of
# one match only, whose truth is whether the client's address is in the set. `refine` then
# keeps each set's members together (and its non-members), not one cell per member, so a
# 100,000-entry set costs a few simulations per question instead of 200,000. False: every
# entry is a split point like any other constant (the slow path, kept to compare against).
MEMBERSHIP_CLASSES = True
_CLASS_TYPES = ("hash:ip", "hash:net")


def _is_class_set(ipset: IpSet | None) -> bool:
    """A set whose match is pure membership of one address: hash:ip / hash:net without a
    netmask (the packet's address is masked first) and without `nomatch` entries (a more
    specific exception inside a member network): then an address matches iff it lies in
    the union of the entries' networks (mtype_test_cidrs finds a containing entry)."""
    return (ipset is not None and ipset.type in _CLASS_TYPES and not ipset.unsupported
            and ipset.netmask is None and not any(e.nomatch for e in ipset.entries))


class RuleLookup:
    """(family, table, chain, index) -> Rule, and set name -> elements, for one ruleset."""

    def __init__(self, ruleset: Ruleset, ipsets: tuple[IpSet, ...] | None = None,
                 classes: bool | None = None):
        self.chains = {(t.family, t.name, c.name): c for t in ruleset.tables for c in t.chains}
        self.sets = {(t.family, t.name): t.sets for t in ruleset.tables}
        self.ipsets = {s.name: s for s in ipsets or ()}
        self.classes = MEMBERSHIP_CLASSES if classes is None else classes
        self._points: dict[tuple[int, int], frozenset[int]] = {}
        self._sorted: dict[tuple[int, int], list[int]] = {}
        self._ranges: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
        self._class_sets: dict[int, tuple[str, ...]] = {}
        self._class_set_names: dict[str, bool] = {}

    def class_sets(self, rule: Rule) -> tuple[str, ...]:
        """The sets of `rule` kept as membership classes (their entries are no split points)."""
        if not self.classes:
            return ()
        key = id(rule)
        if key not in self._class_sets:  # per rule once: the test scans the set's entries
            self._class_sets[key] = tuple(n for n in _ipset_names(rule)
                                          if self._is_class(n))
        return self._class_sets[key]

    def _is_class(self, name: str) -> bool:
        if name not in self._class_set_names:
            self._class_set_names[name] = _is_class_set(self.ipsets.get(name))
        return self._class_set_names[name]

    def set_bounds(self, name: str, version: int) -> tuple[list[int], list[int]]:
        """The merged address ranges of a class set, as sorted starts and ends."""
        key = (name, version)
        if key not in self._ranges:
            nets = [v for e in self.ipsets[name].entries for v in e.values
                    if isinstance(v, (ipaddress.IPv4Network, ipaddress.IPv6Network))
                    and v.version == version]
            spans = merge((int(n.network_address), int(n.broadcast_address)) for n in nets)
            self._ranges[key] = ([a for a, _ in spans], [b for _, b in spans])
        return self._ranges[key]

    def member(self, name: str, version: int, addr: int) -> bool:
        starts, ends = self.set_bounds(name, version)
        i = bisect.bisect_right(starts, addr) - 1
        return i >= 0 and ends[i] >= addr

    def points(self, rule: Rule, step: RuleStep, version: int) -> frozenset[int]:
        """The split points of one rule (and of the named sets it uses), computed once."""
        key = (id(rule), version)
        if key not in self._points:
            out: set[int] = set()
            _points(rule.exprs, version, out)
            if any("@" in str(e) for e in rule.exprs):
                for s in self.table_sets(step):
                    _points(s.elements, version, out)
            grouped = self.class_sets(rule)
            for name in _ipset_names(rule):
                if name not in grouped:
                    self._ipset_points(name, version, out, 0)
            self._points[key] = frozenset(out)
        return self._points[key]

    def sorted_points(self, rule: Rule, step: RuleStep, version: int) -> list[int]:
        """`points`, sorted (for bisection), computed once per rule."""
        key = (id(rule), version)
        if key not in self._sorted:
            self._sorted[key] = sorted(self.points(rule, step, version))
        return self._sorted[key]

    def _ipset_points(self, name: str, version: int, out: set[int], depth: int) -> None:
        """An ipset's networks are the constants of a `-m set` rule (a list:set's, those of
        its members)."""
        ipset = self.ipsets.get(name)
        if ipset is None or depth > 1:
            return
        for entry in ipset.entries:
            if ipset.type == "list:set":
                self._ipset_points(str(entry.values[0]), version, out, depth + 1)
            else:
                _points(entry.values, version, out)

    def rules(self, step: RuleStep, with_skipped: bool) -> list[Rule]:
        chain = self.chains.get((step.family, step.table, step.chain))
        if chain is None:
            return []
        if step.skipped:
            if not with_skipped:
                return []
            return list(chain.rules[step.index - 1: step.index - 1 + step.skipped])
        return [chain.rules[step.index - 1]] if 0 < step.index <= len(chain.rules) else []

    def table_sets(self, step: RuleStep):
        return self.sets.get((step.family, step.table), ())


# Address classes the kernel treats specially before any rule or route (martian sources,
# multicast, loopback): the journey's checks use them, so they are split points too.
SPECIAL = {4: ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"),
           6: ("::/128", "::1/128", "::ffff:0:0/96", "fe80::/10", "ff00::/8")}


def host_points(host: Host, version: int) -> set[int]:
    """Constants every answer may hinge on: route prefixes, the host's own addresses, and the
    address classes the kernel checks by itself (SPECIAL)."""
    out: set[int] = set()
    for net in SPECIAL[version]:
        _points(ipaddress.ip_network(net), version, out)
    for r in host.routes:
        _points(r.dst, version, out)
    for p in host.policy_rules:
        _points((p.src, p.dst), version, out)
    for i in host.interfaces:
        for a in i.addresses:
            _points(a.interface, version, out)
    for n in host.runtimes.networks:
        _points(n.subnets, version, out)
    # Container addresses are not split points: a source inside a bridge subnet arriving
    # from outside is denied whether a container has that address (the answer goes to the
    # container, not back to the client) or not (nobody answers ARP) — one verdict.
    return out


def result_points_in(result: FlowResult, lookup: RuleLookup, version: int, lo: int,
                     hi: int) -> set[int]:
    """`result_points` strictly inside lo..hi (lo < p <= hi), each rule's points bisected
    from its sorted list: filtering every point of a 20,000-entry ipset for each of its
    cells made the refinement quadratic in the set's size."""
    out: set[int] = set()
    for step in result.steps:
        if not isinstance(step, RuleStep):
            continue
        for rule in lookup.rules(step, with_skipped=step.direction == "reply"):
            pts = lookup.sorted_points(rule, step, version)
            out.update(pts[bisect.bisect_right(pts, lo):bisect.bisect_right(pts, hi)])
    return out


def result_points(result: FlowResult, lookup: RuleLookup, version: int) -> set[int]:
    """Constants of every rule the flow's journey evaluated (and, on the reply leg, skipped)."""
    out: set[int] = set()
    for step in result.steps:
        if not isinstance(step, RuleStep):
            continue
        for rule in lookup.rules(step, with_skipped=step.direction == "reply"):
            out |= lookup.points(rule, step, version)
    return out


def refine(version: int, simulate: Callable[[IPAddress], FlowResult], lookup: RuleLookup,
           initial: set[int], space: tuple[int, int] | None = None,
           settled: Callable[[int, int, FlowResult], bool] | None = None,
           known: Callable[[int, int], FlowResult | None] | None = None) -> list[Cell]:
    """Partition `space` (default: the whole family) into cells of equal verdict, exactly.

    The unit of work is a class: intervals that every constant met so far treats alike (one
    interval, or the members of a set within one, or its non-members — see
    MEMBERSHIP_CLASSES); one simulation of its first address answers for all of it unless
    the journey met a constant that separates them, and then it is regrouped.

    `settled(lo, hi, result)` may declare a class final without splitting it further, when
    the caller can prove the verdict is the same for every member by another argument (a
    lemma, documented where it is given). `known(lo, hi)` may give a class's result without
    a simulation, under the same obligation. Both see the class's first interval: a class
    never crosses an `initial` point."""
    lo, hi = space or (0, TOP[version])
    cells: list[Cell] = []
    todo = [[part] for part in _split(version, lo, hi, initial)]
    while todo:
        group = todo.pop()
        c_lo, c_hi = group[0]
        result = known(c_lo, c_hi) if known is not None else None
        if result is None:
            result = simulate(_addr(version, c_lo))
            if not (settled is not None and settled(c_lo, c_hi, result)):
                first, *rest = _regroup(group, result, lookup, version)
                todo.extend(rest)
                group = first
        cells.extend(Cell(version, a, b, result) for a, b in group)
    return sorted(cells, key=lambda c: c.lo)


def _regroup(group: list[tuple[int, int]], result: FlowResult, lookup: RuleLookup,
             version: int) -> list[list[tuple[int, int]]]:
    """`group` cut at the constants of the rules `result`'s journey met, the pieces gathered
    by what those constants say of them: the stretch between two plain constants, and the
    membership of each class set the journey looked up. The first class holds the group's
    first address (the one simulated): its result is exact for all of it."""
    g_lo, g_hi = group[0][0], group[-1][1]
    plain = sorted(result_points_in(result, lookup, version, g_lo, g_hi))
    sets = _class_sets_met(result, lookup)
    cuts = set(plain)
    for name in sets:
        starts, ends = lookup.set_bounds(name, version)
        i, j = bisect.bisect_left(ends, g_lo), bisect.bisect_right(starts, g_hi)
        cuts.update(starts[i:j])
        cuts.update(e + 1 for e in ends[i:j])
    classes: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for a, b in _cut(group, sorted(cuts)):
        key = (bisect.bisect_right(plain, a),
               tuple(lookup.member(n, version, a) for n in sets))
        classes.setdefault(key, []).append((a, b))
    return list(classes.values())


def _cut(group: list[tuple[int, int]], cuts: list[int]) -> list[tuple[int, int]]:
    """The intervals of `group` (sorted, disjoint) split at every cut strictly inside one."""
    out: list[tuple[int, int]] = []
    for a, b in group:
        i, j = bisect.bisect_right(cuts, a), bisect.bisect_right(cuts, b)
        start = a
        for p in cuts[i:j]:
            out.append((start, p - 1))
            start = p
        out.append((start, b))
    return out


def _class_sets_met(result: FlowResult, lookup: RuleLookup) -> tuple[str, ...]:
    """The class sets of every rule the journey evaluated (and skipped on the reply leg)."""
    out: dict[str, None] = {}
    for step in result.steps:
        if isinstance(step, RuleStep):
            for rule in lookup.rules(step, with_skipped=step.direction == "reply"):
                out.update(dict.fromkeys(lookup.class_sets(rule)))
    return tuple(out)


def _split(version: int, lo: int, hi: int, points: set[int]) -> list[tuple[int, int]]:
    cuts = sorted(p for p in points if lo < p <= hi)
    out, start = [], lo
    for p in cuts:
        out.append((start, p - 1))
        start = p
    out.append((start, hi))
    return out


def compact(version: int, ranges: Iterable[tuple[int, int]], never: Iterable[int],
            max_except: int = 3) -> list[str]:
    """A readable form of an allowed set: CIDRs of the set with the addresses that can never
    be a source filled in (this host's own, broadcasts), each followed by the few real holes
    it covers — `10.99.0.0/24 (except 10.99.0.1)` instead of eight CIDRs. Display only: the
    exact minimal lists stay in the JSON."""
    allowed = merge(ranges)
    if not allowed:
        return []  # every line printed below holds something allowed
    # only the stretches of allowed-or-never that hold something allowed can print anything
    # (a stretch of holes alone is skipped below); a host with 400 veths has 400 "never"
    # addresses, and summarising each was most of an audit's rendering
    spans = _holding(merge(allowed + [(a, a) for a in never]), allowed)
    out = []
    for cidr in cidrs_of(version, spans):
        net = ipaddress.ip_network(cidr)
        lo, hi = int(net.network_address), int(net.broadcast_address)
        near = _within(allowed, lo, hi)
        missing = subtract([(lo, hi)], near)
        if not near:
            continue  # a filled hole on its own: nothing allowed there
        if not missing:
            out.append(cidr)
        elif sum(b - a + 1 for a, b in missing) <= max_except:
            gone = [str(_addr(version, x)) for a, b in missing for x in range(a, b + 1)]
            out.append(f"{cidr} (except {', '.join(gone)})")
        else:
            out += cidrs_of(version, subtract([(lo, hi)], missing))
    return out


def readable(ranges: dict[int, list[tuple[int, int]]],
             never: dict[int, list[int]] | None = None) -> list[str]:
    """The one readable rendering of an address set (per IP version), used by every display:
    the text and HTML exposure tables, the egress table and the findings' texts (issue 15.10:
    they printed "10.99.0.0/32, 10.99.0.2/31, ... +8 more" where the table said
    "10.99.0.0/24 (except 10.99.0.1, 10.99.0.255)"). `never`: the addresses that can never
    be a source or destination there (the host's own, broadcasts). JSON keeps exact CIDRs."""
    never = never or {}
    present = [v for v in (4, 6) if ranges.get(v)]
    return [c for v in (4, 6) for c in _shorter(v, ranges.get(v, []), never.get(v, []),
                                                 len(present) > 1)]


EXCEPT_SHOWN = 8  # an "anywhere except" list longer than this is no easier to read


def _shorter(version: int, ranges: list[tuple[int, int]], never: list[int],
             both: bool) -> list[str]:
    """The allowed set as `compact` writes it, or, when what is left out of the whole address
    space is the shorter list, "anywhere except ..." (issue 29.7: a port open to all but the
    private ranges printed 42 CIDRs). `both`: the other IP version is listed too, so the
    version is named ("any IPv4 address except ...")."""
    shown = compact(version, ranges, never)
    if len(shown) <= 1:
        return shown
    # what is left out, but not the addresses that can never be a source anyway
    left_out = subtract([(0, TOP[version])], merge(ranges + [(a, a) for a in never]))
    rest = compact(version, left_out, never)
    if not rest or len(rest) >= len(shown) or len(rest) > EXCEPT_SHOWN:
        return shown
    where = f"any IPv{version} address" if both else "anywhere"
    return [f"{where} except {', '.join(rest)}"]


def listed(items: list[str], limit: int = 6) -> str:
    """`items` joined, the first `limit` of them and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _holding(spans: list[tuple[int, int]], allowed: list[tuple[int, int]]):
    """The spans that hold an allowed range, in one sweep (both sorted and disjoint; every
    allowed range lies inside one span)."""
    out, j = [], 0
    for lo, hi in spans:
        while j < len(allowed) and allowed[j][1] < lo:
            j += 1
        if j < len(allowed) and allowed[j][0] <= hi:
            out.append((lo, hi))
    return out


def _within(ranges: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """The ranges (sorted, disjoint) that overlap lo..hi, found by bisection: scanning them
    all for each CIDR printed was quadratic in the allowed ranges (a 20,000-entry ban set)."""
    i = bisect.bisect_left(ranges, (lo, lo)) - 1
    i = max(i, 0)
    j = bisect.bisect_right(ranges, (hi, TOP[6] + 1))
    return [r for r in ranges[i:j] if r[0] <= hi and lo <= r[1]]
