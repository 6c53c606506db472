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
from collections.abc import Callable
from dataclasses import dataclass, replace

from nflens.ir.host import PolicyRule, Route

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# decide(key, reason) -> bool: the walk's Oracle.decide, for a selector the snapshot cannot answer
Decide = Callable[[str, str], bool]


@dataclass(frozen=True)
class FlowKeys:
    """What a lookup's flow carries beyond addresses, devices and mark (struct flowi4):
    the IP protocol and ports (set by the socket for local output; dissected from the packet
    for input when a rule asks for them, fib4_rules_early_flow_dissect) and the uid — the
    sending socket's owner for local output, the namespace's root (0) for input and forward
    (sock_net_uid(net, NULL)). `uid` None: a local sender whose owner the snapshot does not
    show; a `uidrange` rule then becomes an explored assumption."""

    proto: int = 0
    sport: int = 0
    dport: int = 0
    uid: int | None = 0


NO_KEYS = FlowKeys()
# Fib.lookup's arguments: (dst, src, iif, oif, mark, keys)
_LookupKey = tuple[IPAddress, IPAddress | None, str | None, str | None, int, FlowKeys]

DEFAULT_RULES = {
    4: (PolicyRule(0, "local"), PolicyRule(32766, "main"), PolicyRule(32767, "default")),
    6: (PolicyRule(0, "local", family=6), PolicyRule(32766, "main", family=6)),
}
MEMO_SIZE = 65536
_Tables = dict[tuple[str, int], "PrefixTable"]


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
        gateway, dev = (self.gateway, self.oif) if r.type == "unicast" else (r.gateway, r.dev)
        if gateway:  # the next hop taken (of a multipath route: the one assumed)
            parts.append(f"via {gateway}")
        if dev:
            parts.append(f"dev {dev}")
        parts.append(f"table {self.table}")
        return " ".join(parts)


class Fib:
    """Routing tables and policy rules of one host, indexed for lookups.

    A real Docker host has thousands of routes (per veth: fe80::/64, a local fe80 address, an
    ff00::/8 multicast route) and a flow needs several lookups, so a table is not scanned: each
    (table, family) is a `PrefixTable` (longest prefix first, like fib_trie) and the answer of
    a table for (destination, output device) is remembered, the Fib being immutable.
    """

    def __init__(self, routes: tuple[Route, ...], rules: tuple[PolicyRule, ...],
                 ignore_linkdown: frozenset[tuple[int, str]] = frozenset()):
        self.tables = _tables(routes)
        # `ignore_linkdown`: (family, device) where ignore_routes_with_linkdown is on. A lookup
        # that honours link state uses `live`, the tables without their next hops
        live = live_routes(routes, ignore_linkdown)
        self.live = self.tables if live == list(routes) else _tables(live)
        self._memo: dict[tuple[_LookupKey, bool], RouteResult] = {}
        self.rules: dict[int, list[PolicyRule]] = {4: [], 6: []}
        for rule in sorted(rules, key=lambda r: r.priority):
            self.rules[rule.family].append(rule)
        for fam in (4, 6):
            if not self.rules[fam]:
                self.rules[fam] = list(DEFAULT_RULES[fam])

    def lookup(self, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None,
               oif: str | None = None, mark: int = 0, keys: FlowKeys = NO_KEYS,
               decide: Decide | None = None, linkstate: bool = True) -> RouteResult:
        """fib_lookup. A lookup that met a selector it could not answer (an unknown uid, an
        unmodelled selector) asked `decide` and is not remembered: its answer is the
        assumption's. `linkstate` False: FIB_LOOKUP_IGNORE_LINKSTATE, what the reverse-path
        lookups pass (fib_validate_source, xt_rpfilter, nft fib): next hops whose device
        lost its carrier are used even with ignore_routes_with_linkdown=1."""
        key = ((dst, src, iif, oif, mark, keys), linkstate)
        hit = self._memo.get(key)
        if hit is None:
            asked: list[str] = []
            tables = self.live if linkstate else self.tables
            hit = self._lookup(dst, src, iif, oif, mark, keys, _Asker(decide, asked), tables)
            if asked:
                return hit
            if len(self._memo) >= MEMO_SIZE:  # an audit tries many sources: stay bounded
                self._memo.clear()
            self._memo[key] = hit
        return hit

    def _lookup(self, dst: IPAddress, src: IPAddress | None, iif: str | None, oif: str | None,
                mark: int, keys: FlowKeys, ask: _Asker, tables: _Tables) -> RouteResult:
        """fib_rules_lookup (net/core/fib_rules.c): the rules in priority order; `goto` jumps
        to the rule of the target priority; a table without a route, a `throw`, or a route
        suppressed by `suppress_prefixlength` goes on with the next rule."""
        rules = self.rules[dst.version]
        i = 0
        while i < len(rules):
            rule = rules[i]
            i += 1
            if not _rule_selects(rule, dst, src, iif, oif, mark, keys, ask):
                continue
            if rule.action in ("blackhole", "unreachable", "prohibit"):
                return RouteResult(rule.action, table=rule.table)
            if rule.action == "goto":
                i = _goto_target(rules, rule, i)
                continue
            if rule.action != "lookup":
                continue  # nop
            hit = _in_table(tables, rule.table, dst, oif)
            if hit is None or hit.type == "throw":
                continue
            if (rule.suppress_prefixlen is not None and hit.type not in _ERRORS
                    and hit.dst.prefixlen <= rule.suppress_prefixlen):
                continue  # fib4_rule_suppress: only a successful lookup is suppressed
            return RouteResult(hit.type, hit, rule.table, hit.dev, hit.gateway)
        return RouteResult("none")

    def table_route(self, table: str, dst: IPAddress) -> Route | None:
        """The route of one table for `dst`, no rules asked (what is on-link on a device)."""
        return self._in_table(table, dst, None)

    def _in_table(self, table: str, dst: IPAddress, oif: str | None) -> Route | None:
        return _in_table(self.tables, table, dst, oif)


def _in_table(tables: _Tables, table: str, dst: IPAddress, oif: str | None) -> Route | None:
    prefixes = tables.get((table, dst.version))
    return prefixes.longest_match(dst, oif) if prefixes is not None else None


def live_routes(routes: tuple[Route, ...], ignored: frozenset[tuple[int, str]]) -> list[Route]:
    """The routes as a lookup that honours link state sees them (fib_table_lookup,
    net/ipv4/fib_trie.c: a next hop flagged RTNH_F_LINKDOWN is skipped when
    ip_ignore_linkdown(its device); a route with no hop left is passed over for the next
    alias and then a shorter prefix; fib_rebalance gives such a multipath hop no share of
    the hash). IPv6's find_match (net/ipv6/route.c) skips them the same way. Lab:
    tests/lab/test_lab_no_carrier.py."""
    out = []
    for r in routes:
        dead = {d for d in r.linkdown if (r.dst.version, d) in ignored}
        if not dead:
            out.append(r)
        elif r.nexthops:
            hops = tuple(h for h in r.nexthops if h[0] not in dead)
            if hops:
                out.append(replace(r, dev=hops[0][0], gateway=hops[0][1], nexthops=hops,
                                   linkdown=()))
        # a single-hop route through an ignored linkdown device: not there for the lookup
    return out


def _tables(routes: tuple[Route, ...] | list[Route]) -> _Tables:
    grouped: dict[tuple[str, int], list[Route]] = {}
    for r in routes:
        grouped.setdefault((r.table, r.dst.version), []).append(r)
    return {key: PrefixTable(rs) for key, rs in grouped.items()}


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


_ERRORS = ("blackhole", "unreachable", "prohibit")


class _Asker:
    """The lookup's way to the walk's oracle; remembers that it was asked."""

    def __init__(self, decide: Decide | None, asked: list[str]):
        self.decide, self.asked = decide, asked

    def __call__(self, key: str, reason: str) -> bool:
        self.asked.append(key)
        return self.decide(key, reason) if self.decide is not None else False


def _goto_target(rules: list[PolicyRule], rule: PolicyRule, after: int) -> int:
    """The index of the rule a `goto` jumps to: the first of the target priority (the kernel
    refuses a goto backwards). None there: the goto is unresolved and skipped."""
    for j in range(after, len(rules)):
        if str(rules[j].priority) == rule.table:
            return j
    return after


def _rule_selects(rule: PolicyRule, dst: IPAddress, src: IPAddress | None, iif: str | None,
                  oif: str | None, mark: int, keys: FlowKeys, ask: _Asker) -> bool:
    """fib_rule_match + fib4_rule_match; `not` inverts the whole match. A lookup without a
    source has saddr 0.0.0.0 (or ::), which `from 0.0.0.0/8` matches."""
    ok = _addresses_match(rule, dst, src) and _meta_match(rule, iif, oif, mark, keys)
    if ok and rule.uidrange is not None:
        low, high = rule.uidrange
        if keys.uid is None:
            ok = ask(f"ip rule {rule.priority} uidrange",
                     f"the sending socket's owner is not in the snapshot: is it in uidrange "
                     f"{low}-{high} (ip rule {rule.priority})?")
        else:
            ok = low <= keys.uid <= high
    if ok and rule.unmodelled:
        ok = ask(f"ip rule {rule.priority} selector",
                 f"ip rule {rule.priority} selects by {', '.join(rule.unmodelled)}, which "
                 "the model does not evaluate")
    return ok != rule.not_


def _addresses_match(rule: PolicyRule, dst: IPAddress, src: IPAddress | None) -> bool:
    if rule.src is not None:
        saddr = src if src is not None else ipaddress.ip_address(0 if dst.version == 4
                                                                 else "::")
        if saddr.version != rule.src.version or saddr not in rule.src:
            return False
    return rule.dst is None or (dst.version == rule.dst.version and dst in rule.dst)


def _meta_match(rule: PolicyRule, iif: str | None, oif: str | None, mark: int,
                keys: FlowKeys) -> bool:
    if rule.iif is not None and rule.iif != (iif or "lo"):
        return False  # local output looks up with iif = loopback (ip_route_output_key_hash)
    if rule.oif is not None and rule.oif != oif:
        return False
    if rule.fwmark is not None:
        mask = rule.fwmask if rule.fwmask is not None else 0xFFFFFFFF
        if (rule.fwmark ^ mark) & mask:
            return False
    if rule.ipproto is not None and rule.ipproto != keys.proto:
        return False
    for want, have in ((rule.sport, keys.sport), (rule.dport, keys.dport)):
        if want is not None and not want[0] <= have <= want[1]:
            return False
    return True
