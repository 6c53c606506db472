"""The order in which a packet meets a hook's base chains and pseudo-hooks (Pipeline.events):
the simulator runs it, the hook graph lists it (issue 17.3: one table for both)."""

from __future__ import annotations

from nflens.ir.rules import Ruleset, Table
from nflens.kernel.pipeline import CONNTRACK, NAT, Pipeline
from tests.kernel.hosts import base


def _names(events):
    return [e if isinstance(e, str) else f"{e.table.name}/{e.chain.name}" for _, _, e in events]


PRE = Pipeline(Ruleset((
    Table("ip", "raw", (base("PREROUTING", "prerouting", -300),), origin="iptables"),
    Table("ip", "mangle", (base("PREROUTING", "prerouting", -150),), origin="iptables"),
    Table("ip", "nat", (base("PREROUTING", "prerouting", -100, type_="nat"),), origin="iptables"),
    Table("inet", "ct0", (base("at_ct", "prerouting", -200),)),
    Table("bridge", "filter", (base("PREROUTING", "prerouting", -200),), origin="ebtables"),
)))


def test_conntrack_runs_after_raw_and_before_an_equal_priority_chain():
    assert _names(PRE.events(4, "prerouting")) == [
        "raw/PREROUTING", CONNTRACK, "ct0/at_ct", "mangle/PREROUTING", NAT]


def test_the_hook_graph_lists_each_nat_chain_at_its_own_priority():
    assert _names(PRE.events(6, "prerouting", fold_nat=False)) == [CONNTRACK, "ct0/at_ct"]
    assert _names(PRE.events(4, "prerouting", fold_nat=False))[-1] == "nat/PREROUTING"


def test_bridge_hooks_have_no_conntrack_lookup_nor_nf_nat_point():
    assert _names(PRE.events("bridge", "prerouting")) == ["filter/PREROUTING"]


def test_a_nat_hook_without_nat_chains_still_has_nf_nats_point():
    assert [(p, e) for p, _, e in PRE.events(4, "postrouting")] == [(100, NAT)]


# --- issue 24 classes 6 and 7 (lab: tests/lab/test_lab_netfilter_decisions.py) ---------------
def test_of_two_chains_at_one_priority_the_one_registered_last_runs_first():
    """nf_hook_entries_grow inserts a new hook entry before those of equal priority."""
    pipe = Pipeline(Ruleset((
        Table("ip", "t1", (base("c", "output", 0), base("d", "output", 0))),
        Table("ip", "t2", (base("c", "output", 0),)),
    )))
    assert _names(pipe.events(4, "output")) == [CONNTRACK, NAT, "t2/c", "t1/d", "t1/c"]


def test_registration_order_is_nf_tables_listing_order_not_the_merged_dump_order():
    """Save-dump tables come first in a merged ruleset; nft.json's listing order is the
    kernel's creation order, and a table it does not list (legacy) counts as older."""
    pipe = Pipeline(Ruleset((
        Table("ip", "filter", (base("INPUT", "input", 0),), origin="iptables-nft"),
        Table("ip", "legacy", (base("INPUT", "input", 0),), origin="iptables-legacy"),
        Table("inet", "native", (base("input", "input", 0),)),
    ), registration=(("inet", "native"), ("ip", "filter"))))
    assert _names(pipe.events(4, "input"))[:3] == ["filter/INPUT", "native/input",
                                                   "legacy/INPUT"]


def test_nat_chains_run_at_nf_nats_priority_whatever_their_own():
    """A nat chain at -150 next to a filter chain at -120: nf_nat's hook is at -100, so the
    filter chain sees the packet before DNAT; its own priority orders it among nat chains."""
    pipe = Pipeline(Ruleset((
        Table("ip", "n", (base("early", "prerouting", -150, type_="nat"),
                          base("late", "prerouting", 50, type_="nat"))),
        Table("ip", "f", (base("pre", "prerouting", -120),)),
    )))
    events = pipe.events(4, "prerouting")
    assert [(p, n) for (p, _, _), n in zip(events, _names(events))] == [
        (-200, CONNTRACK), (-120, "f/pre"), (-100, NAT)]
    assert [b.chain.name for b in pipe.nat_chains(4, "prerouting")] == ["early", "late"]
    post = Pipeline(Ruleset((Table("ip", "n", (base("s", "postrouting", 50, type_="nat"),
                                                base("f", "postrouting", 70))),)))
    assert _names(post.events(4, "postrouting")) == ["n/f", NAT]
