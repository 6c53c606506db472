"""The five seed stories (../shared/seeds), on snapshots a real dockerd made in the lab.

Each test asks what the story asks and checks the verdict the kernel gave (expected.json of the
fixture) AND the rule nflens names as deciding: the answer has to explain, not only agree.
"""

from __future__ import annotations

import json

import pytest

from nflens.flows import load_flows
from nflens.kernel.simulate import Simulator
from nflens.kernel.trace import HookStep, NatStep, RuleStep
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"


def run(fixture: str, flow_name: str):
    snap = LAB / fixture
    flows = {f.name: f for f in load_flows(snap / "flows.json")}
    kernel = json.loads((snap / "expected.json").read_text())["expected"][flow_name]
    result = Simulator(read_snapshot(snap)).run(flows[flow_name])
    assert result.verdict == kernel, result.reason
    return result


def test_seed000_web2_is_first_denied_by_the_docker_user_allow_list():
    result = run("seed000_web2-broken", "lan-web2")
    assert result.verdict == "deny"
    assert result.stopped_at.chain == "DOCKER-USER"
    assert result.stopped_at.rule.text.endswith("-j DROP")


def test_seed000_after_the_docker_user_fix_ebtables_still_drops_the_arp():
    result = run("seed000_web2-docker-user-fixed-only", "lan-web2")
    assert result.verdict == "deny"
    assert result.stopped_at.family == "bridge"
    assert "-p ARP -j DROP" in result.stopped_at.rule.text
    assert any(getattr(s, "kind", "") == "arp" and not s.ok for s in result.steps)


def test_seed000_web1_keeps_working_in_every_variant():
    for variant in ("broken", "docker-user-fixed-only", "fixed"):
        assert run(f"seed000_web2-{variant}", "lan-web1").verdict == "allow"


def test_seed001_the_published_port_is_open_to_the_wan_although_input_drops_it():
    result = run("seed001_input_bypass-broken", "wan-web")
    assert result.verdict == "allow"
    hooks = {(s.hook, s.chain) for s in result.steps
             if isinstance(s, HookStep) and s.direction == "original"}
    assert ("forward", "FORWARD") in hooks and ("input", "INPUT") not in hooks
    host_service = run("seed001_input_bypass-broken", "wan-hostsvc")
    assert host_service.verdict == "deny" and host_service.stopped_at is None  # INPUT's policy


def test_seed001_fixed_with_ctorigdstport_in_docker_user():
    result = run("seed001_input_bypass-fixed", "wan-web")
    assert result.verdict == "deny"
    assert result.stopped_at.chain == "DOCKER-USER"


def test_seed002_the_reply_is_un_natted_by_conntrack_and_meets_no_nat_chain():
    result = run("docker_options-noproxy", "lan-web")
    reply_nat = [s for s in result.steps if isinstance(s, NatStep) and s.direction == "reply"]
    assert reply_nat and all(s.by == "conntrack" for s in reply_nat)
    reply_nat_chains = [s for s in result.steps if isinstance(s, HookStep)
                        and s.direction == "reply" and s.table == "nat"]
    assert reply_nat_chains == []


def test_seed003_blocking_egress_also_blocks_replies_to_the_published_port():
    result = run("seed003_egress-broken", "lan-web")
    assert result.verdict == "deny"
    assert result.reason.startswith("reply")
    assert result.stopped_at.chain == "DOCKER-USER"


def test_seed003_container_to_host_is_not_covered_by_forward_rules():
    result = run("seed003_egress-broken", "web-to-host")
    assert result.verdict == "allow"
    assert not any(isinstance(s, HookStep) and s.hook == "forward" for s in result.steps)


def test_seed004_a_docker_user_rule_on_the_host_port_never_matches():
    result = run("seed004_dnat_port-broken", "wan-tomcat")
    assert result.verdict == "allow"
    user_rules = [s for s in result.steps if isinstance(s, RuleStep) and s.chain == "DOCKER-USER"
                  and s.direction == "original" and "--dport 80" in s.rule]
    assert user_rules and not any(s.matched is True for s in user_rules)


def test_seed004_the_nat_table_trick_is_bypassed_by_docker_proxy():
    result = run("seed004_dnat_port-nat-filter", "wan-tomcat")
    assert result.verdict == "allow"
    assert any(getattr(s, "kind", "") == "endpoint" and "docker-proxy" in s.endpoint
               for s in result.steps)


def test_seed005_a_forward_chain_at_another_priority_drops_docker_traffic():
    result = run("seed005_nft_priority-broken", "lan-web")
    assert result.verdict == "deny"
    assert result.stopped_policy is not None and result.stopped_policy[1] == "filterx"


@pytest.mark.parametrize("fixture", ["seed005_nft_priority-broken-prio-minus10",
                                     "seed005_nft_priority-broken-prio-10"])
def test_seed005_the_priority_does_not_save_docker_traffic_from_a_drop_policy(fixture):
    assert run(fixture, "lan-web").verdict == "deny"


def test_seed000_what_would_change_it_shows_the_next_obstacle_is_ebtables():
    from nflens.kernel.whatif import what_would_change

    snap = LAB / "seed000_web2-broken"
    host = read_snapshot(snap)
    flow = {f.name: f for f in load_flows(snap / "flows.json")}["lan-web2"]
    result = Simulator(host).run(flow)
    change, after = what_would_change(host, flow, result)
    assert "DOCKER-USER" in change
    assert after.verdict == "deny" and after.stopped_at.family == "bridge"


def test_seed005_what_would_change_it_is_the_policy_of_the_foreign_forward_chain():
    from nflens.kernel.whatif import what_would_change

    snap = LAB / "seed005_nft_priority-broken"
    host = read_snapshot(snap)
    flow = {f.name: f for f in load_flows(snap / "flows.json")}["lan-web"]
    change, after = what_would_change(host, flow, Simulator(host).run(flow))
    assert "policy ACCEPT" in change and after.verdict == "allow"
