"""Each seed story's policy, compiled into the broken lab snapshot, gives what the real kernel
gave for the story's fixed variant (tests/fixtures/lab/*-fixed*/expected.json)."""

from __future__ import annotations

import json

import pytest

from nflens.flows import load_flows
from nflens.kernel.check import check_flows
from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from nflens.snapshot.read import read_snapshot
from tests.conftest import EXAMPLES, REPO

LAB = REPO / "tests" / "fixtures" / "lab"
POLICIES = EXAMPLES / "policies"

CASES = [  # policy, snapshot it is applied to, fixture whose kernel outcomes it must produce
    ("seed000-web2.yaml", "seed000_web2-broken", "seed000_web2-fixed", "iptables"),
    ("seed001-input-bypass.yaml", "seed001_input_bypass-broken", "seed001_input_bypass-fixed",
     "iptables"),
    ("seed001-input-bypass.yaml", "seed001_input_bypass-broken", "seed001_input_bypass-fixed",
     "nft"),
    ("seed003-egress.yaml", "seed003_egress-broken", "seed003_egress-fixed", "iptables"),
    ("seed003-egress.toml", "seed003_egress-broken", "seed003_egress-fixed", "iptables"),
    ("seed004-dnat-port.yaml", "seed004_dnat_port-broken", "seed004_dnat_port-fixed", "iptables"),
    ("seed004-dnat-port.yaml", "seed004_dnat_port-broken", "seed004_dnat_port-fixed", "nft"),
]


def _expected(fixture: str) -> dict[str, str]:
    return json.loads((LAB / fixture / "expected.json").read_text())["expected"]


@pytest.mark.parametrize("policy,base,fixed,dialect", CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_seed_policy_gives_the_kernel_outcomes_of_the_fixed_story(policy, base, fixed, dialect):
    host = read_snapshot(LAB / base)
    plan = make_plan(load_policy(str(POLICIES / policy)), host, dialect)
    assert plan.ok, [(j.probe.flow.name, j.expect, j.after.verdict) for j in
                     plan.verification.failures + plan.verification.unintended]
    flows = load_flows(LAB / base / "flows.json")
    got = {r.name: r.verdict for r in check_flows(plan.after, flows)}
    assert got == _expected(fixed)


def test_seed_broken_snapshot_really_differs_from_the_fixed_outcomes():
    """The seed cases above are not vacuous: without the policy the verdicts differ."""
    for _policy, base, fixed, _ in CASES:
        host = read_snapshot(LAB / base)
        got = {r.name: r.verdict for r in check_flows(host, load_flows(LAB / base / "flows.json"))}
        assert got != _expected(fixed), base


def test_egress_policy_without_take_over_in_nft_keeps_replies_and_host_access():
    """seed 003 on a host with no user rules, as an nft table: egress denied, replies and
    container -> host still pass."""
    doc = POLICIES.parent / "policies" / "seed003-egress.yaml"
    policy = load_policy(str(doc)).model_copy(update={"take_over": ()})
    host = read_snapshot(LAB / "seed003_egress-none")
    plan = make_plan(policy, host, "nft")
    assert plan.ok
    got = {r.name: r.verdict for r in check_flows(plan.after,
                                                  load_flows(LAB / "seed003_egress-none" / "flows.json"))}
    assert got == _expected("seed003_egress-fixed")
