"""Which rules speak about a published port, as seen on the forward path after DNAT.

After DNAT the forward path sees the container's address and port. A rule addresses the
published port when it can match those packets: the original destination port
(`--ctorigdstport HOSTPORT`, nft `ct original proto-dst`), or the container's port together with
no destination or the container's own address.
"""

from __future__ import annotations

from nflens.analysis.context import Published, matches_of
from nflens.ir.rules import NftCmp, Rule


def _in(port: int, value) -> bool:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, int) for x in value):
        return value[0] <= port <= value[1]
    if isinstance(value, (tuple, list, set, frozenset)):
        return any(_in(port, v) for v in value)
    return isinstance(value, int) and value == port


def port_values(rule: Rule, names: tuple[str, ...]) -> list:
    vals = []
    for m in matches_of(rule):
        for o in m.opts:
            if o.name in names and not o.negated:
                vals.append(o.value)
    return vals


def addresses_published_port(rule: Rule, p: Published) -> bool:
    b = p.binding
    if any(_in(p.host_port, v) for v in port_values(rule, ("ctorigdstport",))):
        return True
    for e in rule.exprs:
        if isinstance(e, NftCmp) and "proto-dst" in str(e.left) and _in(p.host_port, e.right):
            return True
    dports = port_values(rule, ("dport", "destination-port", "dports"))
    if any(_in(b.container_port, v) for v in dports):
        dsts = [o.value for m in matches_of(rule) for o in m.opts if o.name == "dst"]
        addr = p.container_addr()
        return not dsts or any(addr is not None and addr in d for d in dsts)
    return False


SPAN = 256  # a range of up to this many ports is filed under each of them


def _keys(value, ints: set[int]) -> bool:
    """The ports a match value names go into `ints` (the parser reads `--ctorigdstport P` as
    the range (P, P)); True when it names a range too wide to file port by port, which `_in`
    must then judge for every port."""
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, int) for x in value):
        lo, hi = value
        if hi - lo >= SPAN:
            return True
        ints.update(range(lo, hi + 1))
        return False
    if isinstance(value, (tuple, list, set, frozenset)):
        return any([_keys(v, ints) for v in value])
    if isinstance(value, int):
        ints.add(value)
    return False


class PortIndex:
    """Rules indexed by the ports they name, built once per audit: which of them address a
    published port is then a dictionary look-up per port instead of a walk of every rule's
    matches for every port (an allow-list of 120 per-port rules and 400 published ports made
    that quadratic). The answer is `addresses_published_port`'s, rule for rule, in order:
    the index only chooses the candidates, each is still judged by it."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.host_port: dict[int, list[int]] = {}  # --ctorigdstport / ct original proto-dst
        self.container_port: dict[int, list[int]] = {}  # --dport and friends
        self.always: list[int] = []  # wide ranges: judged for every port
        for i, r in enumerate(rules):
            orig: set[int] = set()
            ranged = any([_keys(v, orig) for v in port_values(r, ("ctorigdstport",))])
            for e in r.exprs:
                if isinstance(e, NftCmp) and "proto-dst" in str(e.left):
                    ranged = _keys(e.right, orig) or ranged
            dports: set[int] = set()
            ranged = any([_keys(v, dports) for v in port_values(
                r, ("dport", "destination-port", "dports"))]) or ranged
            if ranged:
                self.always.append(i)
                continue
            for port in orig:
                self.host_port.setdefault(port, []).append(i)
            for port in dports:
                self.container_port.setdefault(port, []).append(i)

    def addressing(self, p: Published) -> list[Rule]:
        b = p.binding
        host = self.host_port.get(b.host_port, ()) if b.host_port is not None else ()
        candidates = sorted({*host,
                             *self.container_port.get(b.container_port, ()), *self.always})
        return [self.rules[i] for i in candidates
                if addresses_published_port(self.rules[i], p)]


def user_nat_rules_on(ctx, p: Published) -> list[Rule]:
    """The admin's own nat-table rules (outside Docker's chains) on the published host port:
    the DOCKER-FILTER kind of trick."""
    out = []
    for t in ctx.host.ruleset.tables:
        if t.name != "nat" or t.family != p.family:
            continue
        for c in t.chains:
            if c.name in DOCKER_NAT_CHAINS:
                continue
            for r in c.rules:
                owner = ctx.owners.of(r)
                if owner is not None and owner.kind not in ("admin", "persist"):
                    continue  # Docker's hairpin MASQUERADE of a container port, a manager's rule
                if any(_in(p.host_port, v) for v in
                       port_values(r, ("dport", "destination-port", "dports"))):
                    out.append(r)
    return out


DOCKER_NAT_CHAINS = {"DOCKER"}
