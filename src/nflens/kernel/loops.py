"""Rulesets the kernel refuses to load because of their jumps, and the nesting it allows.

A loop of jumps/gotos (LA -> LB -> LA) never reaches a packet: the kernel refuses the whole
table. x_tables (net/ipv4/netfilter/ip_tables.c translate_table -> mark_source_chains, which
walks every chain reachable from a hook and returns -ELOOP on a cycle; ebtables' translate_table
-> check_chainloops likewise) checks the chains reachable from a hook; nf_tables
(net/netfilter/nf_tables_api.c nf_tables_check_loops) checks every jump as it is added, reached
from a base chain or not. So a loop is one clear error for every command, like the kernel's.

Nesting (how many jumps deep a walk may be, gotos do not push a return point):
- x_tables sizes its jump stack by the number of user-defined chains (translate_table counts
  the XT_ERROR_TARGET heads into `stacksize`; ipt_do_table pushes one entry per jump). With no
  loop a walk can never be nested deeper, so iptables-legacy has no fixed limit.
- nf_tables has a fixed stack of NFT_JUMP_STACK_SIZE (16) return points (nft_do_chain drops a
  packet whose jump would overflow it), and its loader refuses a chain that would sit at level
  16 below a base chain, counting jumps *and* gotos (nft_chain_validate: -EMLINK, "Too many
  links"). Measured in the lab (nft 1.0, iptables-nft 1.8.9): base -> c0 -> ... -> c14 loads,
  one more chain by jump or by goto is refused; iptables-legacy loads 40 and more.
  iptables-nft rulesets live in nf_tables, so the same bound holds for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from nflens.errors import ParseError
from nflens.ir.rules import Action, Chain, NftExpr, Rule, Ruleset, Table
from nflens.kernel.matches._nft_common import verdict_of
from nflens.literal import name

NFT_JUMP_STACK_SIZE = 16  # include/net/netfilter/nf_tables.h


NFT_MAX_LEVEL = NFT_JUMP_STACK_SIZE - 1  # the deepest chain level nf_tables loads


class UnloadableError(ParseError):
    """A ruleset the kernel would refuse to load: no packet ever meets it, so no verdict."""


class JumpLoopError(UnloadableError):
    """A ruleset with a jump loop."""


class NestingError(UnloadableError):
    """An nf_tables ruleset whose chains nest deeper than its loader allows."""


def max_nesting(table: Table) -> int:
    """How many return points a walk in `table` may hold before the kernel stops it."""
    if table.origin in ("nft", "iptables-nft"):
        return NFT_JUMP_STACK_SIZE
    return max(1, sum(1 for c in table.chains if not c.is_base))


def _edges(table: Table, chain: Chain) -> Iterator[tuple[Chain, Rule]]:
    """(target chain, rule) of every jump/goto in `chain`, in rule order, also those a verdict
    map can pick (nf_tables_check_loops walks the map's elements too)."""
    for rule in chain.rules:
        for expr in rule.exprs:
            if not isinstance(expr, Action):
                continue
            verdicts = _vmap_verdicts(table, expr) if expr.name == "vmap" else (expr,)
            for verdict in verdicts:
                if verdict.name in ("jump", "goto"):
                    target = table.chain(verdict.get("chain"))
                    if target is not None:
                        yield target, rule


def _vmap_verdicts(table: Table, action: Action) -> list[Action]:
    data = action.get("data")
    if isinstance(data, str) and data.startswith("@"):
        named = next((s for s in table.sets if s.name == data[1:]), None)
        elements = named.elements if named is not None else ()
    elif isinstance(data, NftExpr) and data.kind == "set":
        elements = data.get("elements", ())
    else:
        elements = ()
    picked = (verdict_of(e[1]) for e in elements if isinstance(e, tuple) and len(e) == 2)
    return [v for v in picked if v is not None]


def find_loop(table: Table) -> list[tuple[Chain, Rule]] | None:
    """A cycle as (chain, the rule in it that jumps on) pairs, or None: a depth-first search
    from the base chains (from every chain for native nft, which checks unreachable ones too)."""
    done: set[str] = set()
    for start in table.chains:
        if start.name in done or not (start.is_base or table.origin == "nft"):
            continue
        stack = [(start, iter(_edges(table, start)))]
        leave: list[Rule] = []  # leave[i]: the rule by which stack[i] went on to stack[i + 1]
        while stack:
            chain, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                done.add(chain.name)
                stack.pop()
                if leave:
                    leave.pop()
                continue
            target, rule = nxt
            on_path = [c.name for c, _ in stack]
            if target.name in on_path:
                j = on_path.index(target.name)
                return [(c, r) for (c, _), r in zip(stack[j:], leave[j:] + [rule])]
            if target.name not in done:
                leave.append(rule)
                stack.append((target, iter(_edges(table, target))))
        done.add(start.name)
    return None


def too_deep(table: Table) -> list[tuple[Chain, Rule | None]] | None:
    """For nf_tables (native or iptables-nft): a path from a base chain down to the first chain
    at a level the loader refuses, as (chain, the rule that goes on) pairs (the last chain has
    None); None if there is none. The table has no loop (find_loop first)."""
    if table.origin not in ("nft", "iptables-nft"):
        return None
    below: dict[str, tuple[int, Rule | None, Chain | None]] = {}  # chain: (depth, via, next)

    def depth(chain: Chain) -> int:  # longest jump/goto path below `chain`, in chains
        if chain.name not in below:
            below[chain.name] = (0, None, None)
            for target, rule in _edges(table, chain):
                d = depth(target) + 1
                if d > below[chain.name][0]:
                    below[chain.name] = (d, rule, target)
        return below[chain.name][0]

    for base in (c for c in table.chains if c.is_base):
        if depth(base) > NFT_MAX_LEVEL:
            path: list[tuple[Chain, Rule | None]] = []
            chain: Chain | None = base
            while len(path) <= NFT_MAX_LEVEL:  # down to the chain at the refused level
                assert chain is not None  # depth() > the limit: a chain at every level
                _, rule, nxt = below[chain.name]
                path.append((chain, rule))
                chain = nxt
            assert chain is not None
            return path + [(chain, None)]
    return None


def check_loadable(ruleset: Ruleset) -> None:
    """Raise UnloadableError (FILE:LINE of the jump at fault) for the first table the kernel
    would refuse: a jump loop, or nf_tables chains nested deeper than its loader allows."""
    for table in ruleset.tables:
        cycle = find_loop(table)
        if cycle is not None:
            names = " -> ".join(name(c.name) for c in [c for c, _ in cycle] + [cycle[0][0]])
            _raise(JumpLoopError, cycle[-1][1],
                   f"jump loop {names} in table {table.family} {table.name}: the kernel refuses "
                   "to load such a ruleset (ELOOP), so it has no verdict")
        deep = too_deep(table)
        if deep is not None:
            names = " -> ".join(name(c.name) for c, _ in deep)
            _raise(NestingError, deep[-2][1],
                   f"chain {name(deep[-1][0].name)} is {len(deep) - 1} levels below a base chain "
                   f"in table {table.family} {table.name} ({names}): nf_tables loads at most "
                   f"{NFT_MAX_LEVEL} (EMLINK, 'Too many links'), so it has no verdict")


def _raise(kind: type[UnloadableError], rule: Rule | None, message: str) -> None:
    src = rule.source if rule is not None else None
    raise kind(message, src.file if src else None, src.line if src else None)
