"""FIB lookups: policy rules, then longest-prefix match per table (net/ipv4/fib_rules.c,
fib_trie.c).

The kernel consults the routing policy database in priority order (default: 0 `local`,
32766 `main`, 32767 `default`); in each table the longest matching prefix wins, then the lowest
metric. A `local` route means the packet is for this host (INPUT path); `broadcast` too; a
`unicast` route gives the output device and gateway; `blackhole`/`unreachable`/`prohibit` end the
lookup with an error; `throw` continues with the next policy rule.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from nflens.ir.host import PolicyRule, Route

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Fib.lookup's arguments: (dst, src, iif, oif, mark)
_LookupKey = tuple[IPAddress, IPAddress | None, str | None, str | None, int]

DEFAULT_RULES = {
    4: (PolicyRule(0, "local"), PolicyRule(32766, "main"), PolicyRule(32767, "default")),
    6: (PolicyRule(0, "local", family=6), PolicyRule(32766, "main", family=6)),
}
MEMO_SIZE = 65536


@dataclass(frozen=True)
class RouteResult:
    """The outcome of one lookup. `type`: local, broadcast, unicast, multicast, blackhole,
    unreachable, prohibit, or "none" (no route at all: ENETUNREACH)."""

    type: str
    route: Route | None = None
    table: str | None = None
    oif: str | None = None
    gateway: IPAddress | None = None

    def describe(self) -> str:
        if self.route is None:
            return "no route"
        r = self.route
        parts = [f"{r.type} {r.dst}" if r.type != "unicast" else str(r.dst)]
        if r.gateway:
            parts.append(f"via {r.gateway}")
        if r.dev:
            parts.append(f"dev {r.dev}")
        parts.append(f"table {self.table}")
        return " ".join(parts)


class Fib:
    """Routing tables and policy rules of one host, indexed for lookups.

    A real Docker host has thousands of routes (per veth: fe80::/64, a local fe80 address, an
    ff00::/8 multicast route) and a flow needs several lookups, so a table is not scanned: each
    (table, family) is a `PrefixTable` (longest prefix first, like fib_trie) and the answer of
    a table for (destination, output device) is remembered, the Fib being immutable.
    """

    def __init__(self, routes: tuple[Route, ...], rules: tuple[PolicyRule, ...]):
        grouped: dict[tuple[str, int], list[Route]] = {}
        for r in routes:
            grouped.setdefault((r.table, r.dst.version), []).append(r)
        self.tables = {key: PrefixTable(rs) for key, rs in grouped.items()}
        self._memo: dict[_LookupKey, RouteResult] = {}
        self.rules: dict[int, list[PolicyRule]] = {4: [], 6: []}
        for rule in sorted(rules, key=lambda r: r.priority):
            self.rules[rule.family].append(rule)
        for fam in (4, 6):
            if not self.rules[fam]:
                self.rules[fam] = list(DEFAULT_RULES[fam])

    def lookup(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
               oif: str | None = None, mark: int = 0) -> RouteResult:
        key = (dst, src, iif, oif, mark)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= MEMO_SIZE:  # an audit tries many sources: stay bounded
                self._memo.clear()
            hit = self._memo[key] = self._lookup(dst, src, iif, oif, mark)
        return hit

    def _lookup(self, dst: IPAddress, src: IPAddress | None, iif: str | None, oif: str | None,
                mark: int) -> RouteResult:
        for rule in self.rules[dst.version]:
            if not _rule_selects(rule, dst, src, iif, oif, mark):
                continue
            if rule.action in ("blackhole", "unreachable", "prohibit"):
                return RouteResult(rule.action, table=rule.table)
            if rule.action != "lookup":
                continue
            hit = self._in_table(rule.table, dst, oif)
            if hit is None or hit.type == "throw":
                continue
            return RouteResult(hit.type, hit, rule.table, hit.dev, hit.gateway)
        return RouteResult("none")

    def _in_table(self, table: str, dst: IPAddress, oif: str | None) -> Route | None:
        prefixes = self.tables.get((table, dst.version))
        return prefixes.longest_match(dst, oif) if prefixes is not None else None


class PrefixTable:
    """The routes of one table and family, by prefix length then masked destination.

    `longest_match` tries the prefix lengths present, longest first, and in each the routes of
    that exact network by metric (stable: dump order breaks ties) — the first route that fits
    is the kernel's choice, as with a full scan in (-prefixlen, metric) order, in at most 33
    (IPv4) or 129 (IPv6) dict lookups whatever the number of routes.
    """

    def __init__(self, routes: list[Route]):
        self.bits = routes[0].dst.max_prefixlen
        self.by_len: dict[int, dict[int, list[Route]]] = {}
        for r in sorted(routes, key=lambda r: r.metric):
            net = int(r.dst.network_address) >> (self.bits - r.dst.prefixlen)
            self.by_len.setdefault(r.dst.prefixlen, {}).setdefault(net, []).append(r)
        self.lengths = sorted(self.by_len, reverse=True)

    def longest_match(self, dst: IPAddress, oif: str | None) -> Route | None:
        value = int(dst)
        for plen in self.lengths:
            for route in self.by_len[plen].get(value >> (self.bits - plen), ()):
                if oif is not None and route.dev not in (None, oif) and route.type == "unicast":
                    continue
                return route
        return None


def _rule_selects(rule: PolicyRule, dst: IPAddress, src: IPAddress | None, iif: str | None,
                  oif: str | None, mark: int) -> bool:
    ok = True
    if rule.src is not None and (src is None or src.version != rule.src.version
                                 or src not in rule.src):
        ok = False
    if rule.dst is not None and (dst.version != rule.dst.version or dst not in rule.dst):
        ok = False
    if rule.iif is not None and rule.iif != (iif or "lo"):
        ok = False
    if rule.oif is not None and rule.oif != oif:
        ok = False
    if rule.fwmark is not None:
        mask = rule.fwmask if rule.fwmask is not None else 0xFFFFFFFF
        if (mark & mask) != rule.fwmark:
            ok = False
    return ok != rule.not_
