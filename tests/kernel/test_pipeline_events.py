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
