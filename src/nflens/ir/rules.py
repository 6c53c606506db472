"""Rulesets of every dialect in one shape.

A `Ruleset` holds `Table`s; a table holds `Chain`s; a chain holds `Rule`s; a rule is an
ordered sequence of expressions, each either a *match* or an *action*, evaluated left to right
exactly as the kernel does for nftables (an iptables rule is the special case "matches..., one
target").

Matches come in two kinds:
- `XtMatch(name, opts)`: an x_tables extension as iptables/ebtables write it. `name` is the module
  ("ip" for the built-in -s/-d/-i/-o/-p/-f part, "tcp", "conntrack", "addrtype", ... for ebtables
  "eb" for the built-in part, "arp", "ip" (ebtables' -p IPv4 --ip-*), ...). Each option keeps
  its own negation, because iptables negates options, not modules (`-m tcp ! --dport 80`).
- `NftCmp(op, left, right)`: an nftables relational expression: `left` is a key expression
  (payload/meta/ct/fib/...: `NftExpr`), `right` a value, prefix, range, set or set reference.

Actions are `Action(name, opts)` with normalised lower-case names:
accept, drop, return, jump, goto, continue, queue, reject, dnat, snat, masquerade, redirect,
mark (meta mark set), connmark, ct (CT target / ct set), notrack, log, nflog, counter, trace,
tcpmss, checksum, vmap (nft verdict map), and "xt" for a target nobody models (kept opaque).

Every rule keeps its `Source` (file, line, original text) so every answer can say why.
Anything a parser cannot interpret is kept (never dropped) and listed in `Ruleset.unsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Netfilter priorities of the classic tables (include/uapi/linux/netfilter_ipv4.h, NF_IP_PRI_*),
# used for iptables tables; nft base chains carry their own.
IPTABLES_PRIORITY = {
    "raw": -300,
    "mangle": -150,
    "nat_dst": -100,  # nat PREROUTING / OUTPUT
    "filter": 0,
    "security": 50,
    "nat_src": 100,  # nat POSTROUTING / INPUT
}
# ebtables (include/uapi/linux/netfilter_bridge.h, NF_BR_PRI_*)
EBTABLES_PRIORITY = {
    "broute": -400,  # not a hook chain: BROUTING runs in the bridge rx handler
    "nat_dst_bridged": -300,
    "filter_bridged": -200,
    "nat_src": 300,
}


@dataclass(frozen=True)
class Source:
    """Where a rule or chain came from: file, 1-based line, and the original text."""

    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Opt:
    """One option of an x_tables match: `--dport 80` -> Opt("dport", (80, 80)).

    `value` is already typed by the extension's grammar (networks, port ranges, frozensets of
    state names, ints, strings); `negated` is the `!` in front of it.
    """

    name: str
    value: Any = None
    negated: bool = False


@dataclass(frozen=True)
class XtMatch:
    """An iptables/ebtables/arptables match module with its options."""

    name: str
    opts: tuple[Opt, ...] = ()

    def get(self, name: str) -> Opt | None:
        for opt in self.opts:
            if opt.name == name:
                return opt
        return None

    @property
    def kind(self) -> str:
        return self.name


@dataclass(frozen=True)
class NftExpr:
    """An nftables expression node, as in libnftables-json.

    `kind` is the JSON key ("payload", "meta", "ct", "fib", "&", "|", "concat", "set", "range",
    "prefix", "elem", "map", "numgen", "jhash", "symhash", "exthdr", "tcp option", "rt", "socket",
    "osf", "ipsec", "tunnel", "xt", ...); `args` is its attribute object as a sorted tuple of
    (key, value) pairs, with nested expressions converted to NftExpr and lists to tuples.
    Plain values (str, int) stay Python values.
    """

    kind: str
    args: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.args:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class NftCmp:
    """An nftables relational expression `left op right` (op: ==, !=, <, >, <=, >=, in)."""

    op: str
    left: Any
    right: Any

    @property
    def kind(self) -> str:
        left = self.left
        return left.kind if isinstance(left, NftExpr) else "value"


@dataclass(frozen=True)
class Action:
    """A statement that does something: a verdict, NAT, mark, log ... (see module docstring).

    Examples: Action("accept"); Action("jump", (("chain", "DOCKER"),));
    Action("dnat", (("addr", "172.17.0.2"), ("port", (80, 80)))).
    """

    name: str
    opts: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.opts:
            if k == key:
                return v
        return default

    @property
    def terminal(self) -> bool:
        """Ends rule evaluation for this packet in this base chain (or moves to another chain)."""
        return self.name in TERMINAL_ACTIONS


TERMINAL_ACTIONS = frozenset(
    {"accept", "drop", "return", "jump", "goto", "queue", "reject", "dnat", "snat", "masquerade",
     "redirect", "vmap"}
)

Expr = XtMatch | NftCmp | Action | NftExpr


@dataclass(frozen=True)
class Rule:
    """One rule: expressions evaluated left to right, plus where it came from.

    `exprs` holds matches (XtMatch / NftCmp / a bare NftExpr used as a boolean test) and Actions.
    `counters` is (packets, bytes) when the dump had them. `handle` is nft's rule handle.
    """

    exprs: tuple[Expr, ...]
    source: Source | None = None
    counters: tuple[int, int] | None = None
    handle: int | None = None
    comment: str | None = None

    @property
    def matches(self) -> tuple[Expr, ...]:
        return tuple(e for e in self.exprs if not isinstance(e, Action))

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(e for e in self.exprs if isinstance(e, Action))

    @property
    def text(self) -> str:
        return self.source.text if self.source else ""


@dataclass(frozen=True)
class Chain:
    """A chain. Base chains have `hook` (prerouting, input, forward, output, postrouting,
    ingress, egress; ebtables: the same names in the bridge family) and `priority`;
    regular chains have neither. `policy` is "accept"/"drop" for base chains, None otherwise.
    `type` is nft's chain type: filter, nat or route."""

    name: str
    rules: tuple[Rule, ...] = ()
    hook: str | None = None
    priority: int | None = None
    policy: str | None = None
    type: str = "filter"
    source: Source | None = None
    counters: tuple[int, int] | None = None
    device: str | None = None  # netdev/inet ingress chains

    @property
    def is_base(self) -> bool:
        return self.hook is not None


@dataclass(frozen=True)
class NamedSet:
    """An nft named set or map (also ipset, which iptables' `-m set` refers to).

    `elements` are the raw element values (NftExpr prefixes/ranges/concats or plain values);
    for maps, `elements` are (key, value) pairs. `flags` e.g. interval, constant, timeout.
    """

    name: str
    type: Any = None  # "ipv4_addr", or a tuple for concatenations
    elements: tuple[Any, ...] = ()
    is_map: bool = False
    map_type: Any = None  # value type of a map ("verdict", "ipv4_addr", ...)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A table of one family.

    `family`: ip, ip6, inet, arp, bridge, netdev.
    `origin` tells who owns it, which decides the source of truth when dialects overlap:
    "iptables-legacy", "iptables-nft" (xt tables inside nf_tables), "nft" (native), "ebtables".
    """

    family: str
    name: str
    chains: tuple[Chain, ...] = ()
    sets: tuple[NamedSet, ...] = ()
    origin: str = "nft"
    source: Source | None = None

    def chain(self, name: str) -> Chain | None:
        for c in self.chains:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True)
class Unsupported:
    """A construct the simulator does not model: where it is and what it is."""

    file: str
    line: int
    text: str
    what: str


@dataclass(frozen=True)
class Ruleset:
    """Everything parsed from one or more dumps.

    `dialect`: the dialect of the file it came from ("iptables", "ip6tables", "nft-json",
    "nft-text", "ebtables", or "snapshot" when merged). `backend`: "legacy" / "nf_tables" for
    iptables-save dumps (from their first line), else None. `warnings` are (file, line, message)
    for input that was accepted but is odd (CRLF, dotted netmask, missing COMMIT).
    `incompatible`: tables an iptables-nft-save dump printed only as a stub, after "# Table `X'
    contains incompatible base-chains" (the table holds native nft base chains; see
    snapshot/rulesets.py).
    """

    tables: tuple[Table, ...] = ()
    dialect: str = "unknown"
    backend: str | None = None
    unsupported: tuple[Unsupported, ...] = ()
    warnings: tuple[tuple[str, int, str], ...] = ()
    incompatible: tuple[str, ...] = ()
    # (family, table) in the order nf_tables lists them (nft.json): their creation order, which
    # orders base chains of equal priority (kernel/pipeline.py)
    registration: tuple[tuple[str, str], ...] = ()

    def table(self, family: str, name: str) -> Table | None:
        for t in self.tables:
            if t.family == family and t.name == name:
                return t
        return None

    def rule_count(self) -> int:
        return sum(len(c.rules) for t in self.tables for c in t.chains)

    def merged_with(self, other: Ruleset) -> Ruleset:
        return Ruleset(
            tables=self.tables + other.tables,
            dialect="snapshot",
            backend=self.backend or other.backend,
            unsupported=self.unsupported + other.unsupported,
            warnings=self.warnings + other.warnings,
            registration=self.registration or other.registration,
        )


def opts(**kw: Any) -> tuple[tuple[str, Any], ...]:
    """Build an Action/NftExpr option tuple, sorted for stable equality."""
    return tuple(sorted(kw.items()))
