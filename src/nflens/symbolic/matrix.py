"""The service matrix of one iptables filter chain (CONTRACT §4 `nflens matrix`), the way fffuu
defines it, so the two can be compared relation for relation.

fffuu's defaults, reproduced on purpose:
- packets are NEW TCP from source port 10000 to the given destination port;
- only fffuu's known primitives decide (addresses, the protocols its parser names, ports,
  interfaces, conntrack state); everything else — comments, limits, icmp types, marks, tcp
  flags, `-p sctp` — is *unknown*;
- upper closure: an unknown condition is taken as true in an ACCEPT rule and as false in a
  DROP/REJECT rule (the rule is dropped), so the matrix over-approximates what is allowed;
  after a RETURN or jump whose condition is unknown, the DROPs that follow are dropped too
  (fffuu unfolds the chain first, and the unknown reaches them negated);
- interfaces: the IP assignment (default: only `lo` = 127.0.0.0/8 / ::1) rewrites `-i lo`
  into its source addresses when every interface the chain uses is assigned, else it only adds
  that constraint; any other interface match is unknown.
The classes are the coarsest partition of the address space in which addresses behave alike
both as source and as destination; an edge (a, b) says a may open connections to b.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from nflens.errors import MatrixError
from nflens.ir.packet import Packet, max_address
from nflens.ir.rules import Action, Chain, Opt, Ruleset, Table, XtMatch
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.loops import check_loadable
from nflens.kernel.matches import lookup
from nflens.kernel.region import EMPTY, FULL, NULL_HOST, Region, complement, merge

FFFUU_KNOWN = {("ip", "src"), ("ip", "dst"), ("ip", "proto"), ("ip", "in"), ("ip", "out"),
               ("iprange", "src-range"), ("iprange", "dst-range"), ("tcp", "sport"),
               ("tcp", "dport"), ("udp", "sport"), ("udp", "dport"), ("multiport", "sports"),
               ("multiport", "dports"), ("multiport", "ports"), ("state", "state"),
               ("conntrack", "ctstate")}
# the protocol names fffuu's parser knows; any other `-p X` is an unknown match to it
FFFUU_PROTOCOLS = {"tcp", "udp", "icmp", "icmpv6", "esp", "ah", "gre"}
LOOPBACK = {4: ipaddress.ip_network("127.0.0.0/8"), 6: ipaddress.ip_network("::1/128")}


@dataclass
class Axis:
    """The atoms of one address axis: consecutive intervals between the ruleset's constants."""

    version: int
    cuts: list[int]  # sorted starts of atoms, cuts[0] == 0

    @property
    def top(self) -> int:
        return max_address(self.version)

    def atom_range(self, i: int) -> tuple[int, int]:
        hi = self.cuts[i + 1] - 1 if i + 1 < len(self.cuts) else self.top
        return self.cuts[i], hi

    def mask(self, intervals) -> int:
        """The atoms covered by `intervals` (None: all), as a bit mask."""
        n = len(self.cuts)
        if intervals is None:
            return (1 << n) - 1
        from bisect import bisect_right

        m = 0
        for lo, hi in intervals:
            i = bisect_right(self.cuts, lo) - 1
            j = bisect_right(self.cuts, hi) - 1
            m |= ((1 << (j - i + 1)) - 1) << i
        return m


@dataclass
class Sets:
    """A set of (src, dst) pairs: per source atom, a mask of destination atoms."""

    rows: list[int]

    @classmethod
    def empty(cls, n: int) -> Sets:
        return cls([0] * n)

    def copy(self) -> Sets:
        return Sets(list(self.rows))


@dataclass
class _Rule:
    src_mask: int
    dst_mask: int
    unknown: bool
    action: str  # accept drop return jump goto nop
    target: str | None = None


@dataclass
class Matrix:
    version: int
    classes: list[list[tuple[int, int]]]  # each class: its address ranges
    edges: list[tuple[int, int]]
    notes: list[str] = field(default_factory=list)

    def pairs(self) -> set[tuple[int, int]]:
        return set(self.edges)

    def names(self) -> list[str]:
        return [_name(i) for i in range(len(self.classes))]

    def _fmt(self, lo: int, hi: int) -> str:
        a = ipaddress.ip_address(lo) if self.version == 4 else ipaddress.IPv6Address(lo)
        b = ipaddress.ip_address(hi) if self.version == 4 else ipaddress.IPv6Address(hi)
        return str(a) if lo == hi else f"{a}-{b}"

    def to_json(self) -> dict:
        names = self.names()
        return {"classes": {names[i]: [self._fmt(lo, hi) for lo, hi in c]
                            for i, c in enumerate(self.classes)},
                "edges": [[names[a], names[b]] for a, b in self.edges]}

    def text(self) -> str:
        names = self.names()
        lines = []
        for i, c in enumerate(self.classes):
            parts = " u ".join("{" + self._fmt(lo, hi).replace("-", " .. ") + "}" for lo, hi in c)
            lines.append(f"{names[i]} |-> {parts}")
        lines.append("")
        lines += [f"({names[a]},{names[b]})" for a, b in self.edges]
        return "\n".join(lines)


def _name(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(97 + r) + s
    return s


# --- building -------------------------------------------------------------------------------

def _context(version: int, proto: str, sport: int, dport: int) -> PacketContext:
    zero = ipaddress.ip_address("0.0.0.0" if version == 4 else "::")
    pkt = Packet(zero, zero, proto, sport, dport, tcp_flags=frozenset({"SYN"}))
    return PacketContext(pkt=pkt, family="ip" if version == 4 else "ip6", hook="forward",
                         env=NULL_HOST, iif=Unknown("input interface"),
                         oif=Unknown("output interface"), ct=CtView(state="NEW"))


def _ifaces(table: Table, chain: Chain) -> set[str]:
    """Every interface named in `chain` and the chains it reaches. Walked with a stack, not
    recursion: a dump with 3,000 nested chains raised RecursionError here (issue 16.10); the
    walk itself says "nested too deep" for those."""
    seen: set[str] = set()
    out: set[str] = set()
    todo = [chain]
    while todo:
        current = todo.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for r in current.rules:
            for e in r.exprs:
                if isinstance(e, XtMatch) and e.name == "ip":
                    out |= {o.value for o in e.opts if o.name in ("in", "out")}
                if isinstance(e, Action) and e.name in ("jump", "goto"):
                    sub = table.chain(e.get("chain"))
                    if sub is not None:
                        todo.append(sub)
    return out


def _iface_region(o: Opt, rewrite: bool, ipassmt: dict[str, list[tuple[int, int]]],
                  top: int) -> Region:
    """fffuu's interface handling. An assigned input interface stands for its addresses as
    sources: exactly (rewrite) when every interface of the chain is assigned and the
    assignments are disjoint, else only as an added constraint (the interface itself stays
    unknown). Output interfaces and unassigned ones are unknown (no routing table)."""
    if o.name != "in" or o.value not in ipassmt:
        return Region(unknown=(f"interface {o.value}",))
    ranges = tuple(ipassmt[o.value])
    if rewrite:
        ivs = complement(ranges, top) if o.negated else ranges
        return Region(src=ivs) if ivs else EMPTY
    if o.negated or not ranges:
        return Region(unknown=(f"interface {o.value}",)) if ranges or o.negated else EMPTY
    return Region(src=ranges, unknown=(f"interface {o.value}",))


def _disjoint(ipassmt: dict[str, list[tuple[int, int]]]) -> bool:
    spans = sorted(r for rs in ipassmt.values() for r in rs)
    return all(a[1] < b[0] for a, b in zip(spans, spans[1:]))


def _fffuu_knows(match: str, o: Opt) -> bool:
    if (match, o.name) not in FFFUU_KNOWN:
        return False
    return o.name != "proto" or str(o.value) in FFFUU_PROTOCOLS


def _region(rule, ctx, version, rewrite, ipassmt, unknowns: list[str]) -> Region:
    region = FULL
    for e in rule.exprs:
        if isinstance(e, Action):
            continue
        if not isinstance(e, XtMatch):
            region &= Region(unknown=(type(e).__name__,))
            continue
        known = [o for o in e.opts if _fffuu_knows(e.name, o)]
        odd = [o for o in e.opts if not _fffuu_knows(e.name, o)]
        if odd:
            what = f"-p {odd[0].value}" if odd[0].name == "proto" else \
                f"-m {e.name} --{odd[0].name}"
            region &= Region(unknown=(what,))
        if e.name == "ip":
            top = max_address(version)
            for o in known:
                if o.name in ("in", "out"):
                    region &= _iface_region(o, rewrite, ipassmt, top)
            known = [o for o in known if o.name not in ("in", "out")]
        if not known:
            continue
        module = lookup("xt", e.name)
        if module is None or not hasattr(module, "constrain"):
            region &= Region(unknown=(f"-m {e.name}",))
            continue
        region &= module.constrain(XtMatch(e.name, tuple(known)), ctx)
        if region.empty:
            return region
    unknowns.extend(region.unknown)
    return region


def _action(rule) -> tuple[str, str | None]:
    for e in rule.exprs:
        if isinstance(e, Action):
            if e.name in ("accept", "drop", "reject", "return"):
                return ("drop" if e.name == "reject" else e.name), None
            if e.name in ("jump", "goto"):
                return e.name, e.get("chain")
            return "nop", None  # LOG, counters, marks: no verdict
    return "nop", None


class _Walker:
    def __init__(self, table: Table, src: Axis, dst: Axis, compiled: dict):
        self.table, self.src, self.dst, self.compiled = table, src, dst, compiled
        self.accepted = Sets.empty(len(src.cuts))
        self.depth = 0

    def walk(self, chain: Chain, here: Sets, tainted: bool) -> Sets:
        """Walk `here` through `chain`; returns what falls off its end (or RETURNs)."""
        self.depth += 1
        if self.depth > 64:
            raise MatrixError(f"chain {chain.name}: jumps nested more than 64 deep (the matrix's "
                              "limit; loops are refused before)")
        returned = Sets.empty(len(here.rows))
        for r in self.compiled[chain.name]:
            if r.action == "nop" or (tainted or r.unknown) and r.action == "drop":
                continue  # upper closure: an uncertain DROP is dropped
            if r.action == "return" and r.unknown:
                tainted = True  # the packets may or may not have left: later DROPs are off
                continue
            matched = Sets.empty(len(here.rows))
            bits = r.src_mask
            while bits:
                low = bits & -bits
                i = low.bit_length() - 1
                bits ^= low
                m = here.rows[i] & r.dst_mask
                if m:
                    matched.rows[i] = m
                    if not (r.unknown and r.action in ("jump", "goto")):
                        here.rows[i] &= ~r.dst_mask
            if not any(matched.rows):
                continue
            if r.action == "accept":
                self._add(self.accepted, matched)
            elif r.action == "drop":
                pass
            elif r.action == "return":
                self._add(returned, matched)
            else:
                sub = self.table.chain(r.target)
                if sub is None:
                    continue
                back = self.walk(sub, matched, tainted or r.unknown)
                if r.unknown:
                    continue  # the callee's decisions are over-approximated; nothing left it
                if r.action == "jump":
                    self._add(here, back)
                else:
                    self._add(returned, back)
        self._add(returned, here)
        self.depth -= 1
        return returned

    @staticmethod
    def _add(into: Sets, more: Sets) -> None:
        for i, m in enumerate(more.rows):
            if m:
                into.rows[i] |= m


def service_matrix(ruleset: Ruleset, chain: str = "FORWARD", proto: str = "tcp",
                   sport: int = 10000, dport: int = 22, table: str = "filter",
                   ipassmt: dict[str, list] | None = None) -> Matrix:
    check_loadable(ruleset)  # the kernel refuses a jump loop: one error, as for every command
    tables = [t for t in ruleset.tables if t.name == table]
    if not tables:
        raise MatrixError(f"no table {table!r} in this dump")
    tbl = tables[0]
    version = 6 if tbl.family == "ip6" else 4
    base = tbl.chain(chain)
    if base is None:
        raise MatrixError(f"no chain {chain!r} in table {table}")
    if ipassmt is None:
        lo = LOOPBACK[version]
        ipassmt = {"lo": [(int(lo.network_address), int(lo.broadcast_address))]}
    rewrite = _ifaces(tbl, base) <= set(ipassmt) and _disjoint(ipassmt)
    ctx = _context(version, proto, sport, dport)
    unknowns: list[str] = []
    regions = {c.name: [(_region(r, ctx, version, rewrite, ipassmt, unknowns), _action(r))
                        for r in c.rules] for c in tbl.chains}
    src_axis = _axis(version, [g.src for rs in regions.values() for g, _ in rs])
    dst_axis = _axis(version, [g.dst for rs in regions.values() for g, _ in rs])
    compiled = {name: [_Rule(0, 0, False, "nop") if g.empty else
                       _Rule(src_axis.mask(g.src), dst_axis.mask(g.dst), bool(g.unknown), a, t)
                       for g, (a, t) in rs] for name, rs in regions.items()}
    walker = _Walker(tbl, src_axis, dst_axis, compiled)
    everything = Sets([dst_axis.mask(None)] * len(src_axis.cuts))
    rest = walker.walk(base, everything, False)
    if (base.policy or "accept") == "accept":
        walker._add(walker.accepted, rest)
    notes = sorted(set(unknowns))
    return _classes(version, src_axis, dst_axis, walker.accepted, notes)


def _axis(version: int, intervals) -> Axis:
    cuts = {0}
    top = max_address(version)
    for ivs in intervals:
        for lo, hi in ivs or ():
            cuts.add(lo)
            if hi < top:
                cuts.add(hi + 1)
    return Axis(version, sorted(cuts))


def _classes(version, src_axis: Axis, dst_axis: Axis, acc: Sets, notes) -> Matrix:
    """Refine both axes to common atoms, then group atoms with equal row and column."""
    common = Axis(version, sorted(set(src_axis.cuts) | set(dst_axis.cuts)))
    from bisect import bisect_right

    s_of = [bisect_right(src_axis.cuts, c) - 1 for c in common.cuts]
    d_of = [bisect_right(dst_axis.cuts, c) - 1 for c in common.cuts]
    n = len(common.cuts)
    widen = [0] * len(dst_axis.cuts)  # destination atom -> the common atoms inside it
    for j, d in enumerate(d_of):
        widen[d] |= 1 << j
    memo: dict[int, int] = {0: 0}
    rows = []
    for i in range(n):
        dmask = acc.rows[s_of[i]]
        if dmask not in memo:
            out, bits = 0, dmask
            while bits:
                low = bits & -bits
                out |= widen[low.bit_length() - 1]
                bits ^= low
            memo[dmask] = out
        rows.append(memo[dmask])
    cols = [0] * n
    for i, r in enumerate(rows):
        bits = r
        while bits:
            low = bits & -bits
            cols[low.bit_length() - 1] |= 1 << i
            bits ^= low
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        groups.setdefault((rows[i], cols[i]), []).append(i)
    order = sorted(groups.values(), key=lambda g: g[0])
    cls_of = [0] * n
    for k, g in enumerate(order):
        for i in g:
            cls_of[i] = k
    classes = [merge([common.atom_range(i) for i in g]) for g in order]  # atoms: disjoint
    reps = [g[0] for g in order]
    edges = [(a, b) for a, i in enumerate(reps) for b, j in enumerate(reps) if rows[i] >> j & 1]
    return Matrix(version, classes, edges, notes)


__all__ = ["Matrix", "MatrixError", "service_matrix"]


def parse_ipassmt(text: str, file: str = "<ipassmt>") -> dict[str, list[tuple[int, int]]]:
    """fffuu's IP assignment file: `IFACE = [CIDR or A-B, ...]` or `IFACE = all_but_those_ips
    [...]`, entries possibly over several lines."""
    from nflens.errors import ParseError

    out: dict[str, list[tuple[int, int]]] = {}
    body = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(r"([\w.+-]+)\s*=\s*(all_but_those_ips\s*)?\[([^\]]*)\]", body):
        iface, neg, items = m.group(1), bool(m.group(2)), m.group(3)
        ranges = []
        families: set[int] = set()  # an IPv6 range may lie below 2**32 (::/96): ask the text
        for item in filter(None, (x.strip() for x in items.split(","))):
            try:
                if "-" in item and "/" not in item:
                    a, b = item.split("-")
                    lo, hi = ipaddress.ip_address(a), ipaddress.ip_address(b)
                    ranges.append((int(lo), int(hi)))
                    families |= {lo.version, hi.version}
                else:
                    net = ipaddress.ip_network(item, strict=False)
                    ranges.append((int(net.network_address), int(net.broadcast_address)))
                    families.add(net.version)
            except ValueError as exc:
                line = body[:m.start()].count("\n") + 1
                raise ParseError(f"bad address {item!r} for {iface}: {exc}", file, line) from exc
        if neg:
            ranges = list(complement(ranges, max_address(6 if 6 in families else 4)))
        out[iface] = sorted(ranges)
    if not out:
        raise ParseError("no `IFACE = [...]` entry found", file, 1)
    return out
