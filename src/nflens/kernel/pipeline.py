"""Which base chains a packet meets at a hook, in priority order, for every family.

An IPv4 packet at an IP hook meets the base chains of the `ip` and `inet` families registered on
that hook, iptables tables (legacy or nft) and native nftables tables alike, sorted by priority
(lower first). Bridge frames meet `bridge` chains (ebtables and nft bridge tables); ARP packets
meet `arp` chains. Conntrack and NAT are not chains but run at fixed priorities
(include/uapi/linux/netfilter_ipv4.h): conntrack -200 in prerouting/output, NAT dst -100 in
prerouting/output, NAT src +100 in postrouting/input, confirm last in postrouting/input.

Two orders the kernel keeps that a listing by priority alone loses (issue 24, lab:
tests/lab/test_lab_netfilter_decisions.py):
- Equal priorities: the chain registered LAST runs first. nf_hook_entries_grow
  (net/netfilter/core.c) copies the old entries while `reg->priority > orig_ops[i]->priority`
  and inserts the new one before the first entry of equal or higher priority. Registration order
  is the order nf_tables lists tables (creation order, `Ruleset.registration` from nft.json) and,
  inside a table, its chains; tables nft.json does not list (legacy x_tables) count as older.
- nat chains (`type nat`, iptables' nat table) are not hooks of their own: nf_nat_register_fn
  (net/netfilter/nf_nat_core.c) registers the NAT core's nf_nat_ipv4_ops / nf_nat_ipv6_ops
  (net/netfilter/nf_nat_proto.c: NAT_DST -100 in prerouting/output, NAT_SRC +100 in
  input/postrouting) once, and files each nat chain in that hook's own list, where the chain's
  priority orders it among the nat chains only.
"""

from __future__ import annotations

from dataclasses import dataclass

from nflens.ir.rules import Chain, Ruleset, Table
from nflens.kernel.index import ChainIndex

FAMILIES_FOR: dict[int | str, tuple[str, ...]] = {
    4: ("ip", "inet"), 6: ("ip6", "inet"), "bridge": ("bridge",), "arp": ("arp",)}
PRIO_CONNTRACK = -200
PRIO_NAT_DST = -100
PRIO_NAT_SRC = 100
NAT_MANIP = {"prerouting": "dst", "output": "dst", "postrouting": "src", "input": "src"}
CONNTRACK_HOOKS = ("prerouting", "output")  # nf_conntrack_in, at PRIO_CONNTRACK (ip and ip6)
CONNTRACK, NAT = "ct", "nat"  # the pseudo-hook events of Pipeline.events


@dataclass(frozen=True)
class BaseChain:
    priority: int
    order: int  # registration order among equal priorities
    table: Table
    chain: Chain

    @property
    def is_nat(self) -> bool:
        return self.chain.type == "nat"


def registered(ruleset: Ruleset) -> list[tuple[Table, Chain]]:
    """The base chains in the order the kernel registered them (oldest first), as far as the
    snapshot shows it: tables in nf_tables' listing order, the others before them in dump order;
    a table's chains in its listing order."""
    rank = {key: i for i, key in enumerate(ruleset.registration)}
    tables = sorted(enumerate(ruleset.tables), key=lambda p: (
        (1, rank[(p[1].family, p[1].name)]) if (p[1].family, p[1].name) in rank else (0, p[0])))
    return [(t, c) for _, t in tables for c in t.chains if c.is_base]


class Pipeline:
    """Base chains indexed by (family key, hook)."""

    def __init__(self, ruleset: Ruleset):
        # per-chain rule indexes (kernel.index), built lazily
        self.indexes: dict[int, ChainIndex | None] = {}
        # events() and nat_chains() per hook: pure functions of the ruleset, asked at every
        # hook of every packet (nine hooks per allowed flow: SYN, reply, ACK)
        self._events: dict[tuple[int | str, str, bool], list[tuple[int, int, BaseChain | str]]] = {}
        self._nat: dict[tuple[int | str, str], list[BaseChain]] = {}
        self.index: dict[tuple[int | str, str | None], list[BaseChain]] = {}  # (family key, hook)
        for order, (table, chain) in enumerate(registered(ruleset), 1):
            prio = chain.priority if chain.priority is not None else 0
            for key, fams in FAMILIES_FOR.items():
                if table.family in fams:
                    self.index.setdefault((key, chain.hook), []).append(
                        BaseChain(prio, order, table, chain))
        for chains in self.index.values():
            chains.sort(key=lambda b: (b.priority, -b.order))  # the newest of equals first

    def equal_peers(self, key: int | str, hook: str, base: BaseChain) -> list[BaseChain]:
        """The base chains of other tables on `hook` at `base`'s priority (filter and route
        types: nat chains run inside the NAT hook). Their order against `base` is assumed
        from nft.json's table order; it is the registration order only if no chain was added
        to the older table after the newer table's chains were (nf_tables lists a table's
        chains after the table, whatever their age: tests/lab/test_lab_netfilter_decisions.py
        test_equal_priorities_follow_chain_age_not_table_order)."""
        if base.is_nat:
            return []
        return [b for b in self.chains(key, hook) if b.priority == base.priority
                and b.table is not base.table and not b.is_nat]

    def chains(self, key: int | str, hook: str) -> list[BaseChain]:
        return self.index.get((key, hook), [])

    def nat_chains(self, key: int | str, hook: str) -> list[BaseChain]:
        """The NAT base chains of `hook`, in the order `chains` gives them."""
        found = self._nat.get((key, hook))
        if found is None:
            found = self._nat[(key, hook)] = [b for b in self.chains(key, hook) if b.is_nat]
        return found

    def events(self, key: int | str, hook: str,
               fold_nat: bool = True) -> list[tuple[int, int, BaseChain | str]]:
        """`_events`, remembered (callers only read the list)."""
        found = self._events.get((key, hook, fold_nat))
        if found is None:
            found = self._events[(key, hook, fold_nat)] = self._list_events(key, hook, fold_nat)
        return found

    def _list_events(self, key: int | str, hook: str,
                     fold_nat: bool) -> list[tuple[int, int, BaseChain | str]]:
        """What a packet meets at `hook`, in the order the kernel runs it: (priority, 0 for a
        pseudo-hook or 1 for a base chain, the BaseChain or CONNTRACK/NAT). Lower priority first;
        a pseudo-hook before chains of its priority; equal chains the newest first.

        IP keys (4, 6) meet the conntrack lookup in CONNTRACK_HOOKS. With `fold_nat` (the
        simulator), an IP NAT hook's NAT chains are one NAT event at nf_nat's own priority
        (NAT_DST / NAT_SRC, whatever the chains' priorities), and IP NAT chains elsewhere are not
        run; without it (the hook graph) every NAT chain is listed at its own priority."""
        chains = self.chains(key, hook)
        ip = key in (4, 6)
        fold = fold_nat and ip
        events: list[tuple[int, int, BaseChain | str]] = [
            (b.priority, 1, b) for b in chains if not (fold and b.is_nat)]
        if ip and hook in CONNTRACK_HOOKS:
            events.append((PRIO_CONNTRACK, 0, CONNTRACK))
        if fold and hook in NAT_MANIP:
            prio = PRIO_NAT_DST if NAT_MANIP[hook] == "dst" else PRIO_NAT_SRC
            events.append((prio, 0, NAT))
        events.sort(key=lambda e: (e[0], e[1], -getattr(e[2], "order", 0)))
        return events

    def has_family(self, key: int | str) -> bool:
        return any(k[0] == key for k in self.index)
