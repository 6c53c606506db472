"""Each seed story's policy, compiled into the broken lab snapshot, gives what the real kernel
gave for the story's fixed variant (tests/fixtures/lab/*-fixed*/expected.json) -- on every
Docker version the lab runs (20.10's fixtures, docker26/ and docker28/): the plan is OK and its
proof holds on each."""

from __future__ import annotations

import ipaddress
import json

import pytest

from nflens.flows import load_flows
from nflens.kernel.check import check_flows
from nflens.lab import versions
from nflens.lab.matrix import fixture_dir
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
    ("seed002-radius.yaml", "seed002_radius-broken", "seed002_radius-fixed", "iptables"),
    ("seed002-radius.yaml", "seed002_radius-broken", "seed002_radius-fixed", "nft"),
]


def _expected(fixture: str, key: str = versions.DEFAULT) -> dict[str, str]:
    return json.loads((fixture_dir(LAB, key, fixture) / "expected.json").read_text())["expected"]


@pytest.mark.parametrize("key", versions.KEYS)
@pytest.mark.parametrize("policy,base,fixed,dialect", CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_seed_policy_gives_the_kernel_outcomes_of_the_fixed_story(policy, base, fixed, dialect,
                                                                   key):
    snap = fixture_dir(LAB, key, base)
    host = read_snapshot(snap)
    plan = make_plan(load_policy(str(POLICIES / policy)), host, dialect)
    assert plan.ok, [(j.probe.flow.name, j.expect, j.after.verdict) for j in
                     plan.verification.failures + plan.verification.unintended]
    flows = load_flows(snap / "flows.json")
    got = {r.name: r.verdict for r in check_flows(plan.after, flows)}
    assert got == _expected(fixed, key)


@pytest.mark.parametrize("key", versions.KEYS)
def test_seed_broken_snapshot_really_differs_from_the_fixed_outcomes(key):
    """The seed cases above are not vacuous: without the policy the verdicts differ."""
    for _policy, base, fixed, _ in CASES:
        snap = fixture_dir(LAB, key, base)
        host = read_snapshot(snap)
        got = {r.name: r.verdict for r in check_flows(host, load_flows(snap / "flows.json"))}
        assert got != _expected(fixed, key), (key, base)


def test_egress_policy_without_take_over_in_nft_keeps_replies_and_host_access():
    """seed 003 on a host with no user rules, as an nft table: egress denied, replies and
    container -> host still pass."""
    doc = POLICIES.parent / "policies" / "seed003-egress.yaml"
    policy = load_policy(str(doc)).model_copy(update={"take_over": ()})
    host = read_snapshot(LAB / "seed003_egress-none")
    plan = make_plan(policy, host, "nft")
    assert plan.ok
    flows = load_flows(LAB / "seed003_egress-none" / "flows.json")
    got = {r.name: r.verdict for r in check_flows(plan.after, flows)}
    assert got == _expected("seed003_egress-fixed")


def test_docker28_refuses_direct_access_by_itself_and_the_proof_expects_it():
    """Docker 28's raw PREROUTING drops a packet for a container's own address that did not come
    over its bridge. Seed 000's policy allows web1's `-p 80:80` from anywhere, and a direct
    connection to 10.213.213.213:80 is the same connection for conntrack: on 20.10 the proof
    expects it allowed (and the kernel allowed it), on 28 it expects what Docker does: deny.
    (Before, the plan on Docker 28 said NOT OK: "direct eth0:10.99.0.2 -> web1
    10.213.213.213:80/tcp: expected allow, got deny".)"""
    from nflens.policy.flows import direct_refused

    old, new = (read_snapshot(fixture_dir(LAB, k, "seed000_web2-broken")) for k in ("20", "28"))
    assert direct_refused(old) == set()
    refused = direct_refused(new)
    assert ("10.213.213.213", "docker0") not in refused  # web1 is on my-net's bridge
    assert ("172.17.0.2", "docker0") in refused
    assert any(addr == "10.213.213.213" and br.startswith("br-") for addr, br in refused)
    policy = load_policy(str(POLICIES / "seed000-web2.yaml"))
    for host, want in ((old, "allow"), (new, "deny")):
        plan = make_plan(policy, host)
        direct = [j for j in plan.verification.judged if j.probe.kind == "direct"
                  and j.probe.container == "web1"]
        assert direct and {(j.expect, j.after.verdict) for j in direct} == {(want, want)}


FWD_POLICY = """version: 1
groups:
  office: [10.99.0.0/24]
inbound:
  default: closed
  ports:
    - {container: proxy, port: 8080, from: [office]}
"""


@pytest.mark.parametrize("key", versions.KEYS)
@pytest.mark.parametrize("fixture", ["firewalld_zones-zones", "seed002_radius-broken"])
def test_firewalld_refuses_direct_access_and_the_proof_names_it(tmp_path, fixture, key):
    """On a firewalld host a client routed straight to a container's address is rejected in
    firewalld's own table (lab: lan-radius-direct / nas-radius-direct deny on 20.10, 26, 28),
    whatever Docker's chains say. The proof expects what firewalld does -- deny -- and names it
    as firewalld's decision. (Before, the plan said NOT OK: "direct eth0:10.99.0.1 -> proxy
    172.20.0.2:8080/tcp: expected allow, got deny", and the coexist lab test needed --force.)"""
    from nflens.policy.verify import DOCKER_RAW, FIREWALLD

    doc = tmp_path / "policy.yaml"
    doc.write_text(FWD_POLICY if fixture.startswith("firewalld") else
                   (POLICIES / "seed002-radius.yaml").read_text())
    host = read_snapshot(fixture_dir(LAB, key, fixture))
    plan = make_plan(load_policy(str(doc)), host, "iptables")
    direct = [j for j in plan.verification.judged if j.probe.kind == "direct"
              and j.statement and j.statement.startswith("inbound.ports")]
    lan = ipaddress.ip_network("10.99.0.0/24" if fixture.startswith("firewalld")
                               else "10.254.0.0/16")
    allowed = [j for j in direct if j.probe.src in lan]  # the policy lets these sources in
    # on 28 Docker's raw table drops them first (its own decision, named as such)
    by = DOCKER_RAW if key == "28" else FIREWALLD
    assert allowed and {(j.expect, j.after.verdict, j.decided_by) for j in allowed} == {
        ("deny", "deny", by)}
    others = [j for j in direct if j.probe.src not in lan]  # the WAN: the policy's own deny
    assert others and {(j.expect, j.decided_by) for j in others} == {("deny", None)}
    assert plan.ok


def test_a_direct_probe_not_refused_by_firewalld_keeps_the_policys_expectation():
    """Only firewalld's table counts: on Docker 20.10 without firewalld (seed 000) the direct
    connection the policy allows is expected allowed, and no host decision is named."""
    host = read_snapshot(LAB / "seed000_web2-broken")
    plan = make_plan(load_policy(str(POLICIES / "seed000-web2.yaml")), host)
    direct = [j for j in plan.verification.judged if j.probe.kind == "direct"
              and j.probe.container == "web1"]
    assert direct and {(j.expect, j.decided_by) for j in direct} == {("allow", None)}


def test_a_group_sample_the_host_cannot_route_back_to_is_taken_in_a_routed_part():
    """seed 002's host routes 10.254.10.0/24 (its own) and 10.254.20.0/24 (behind the NAS), not
    all of the LAN 10.254.0.0/16: the LAN sample is 10.254.20.1 -- routed, and outside the NAS
    network, so the proof tells "lan" from "nas" (RADIUS denied, syslog allowed). Before, it was
    10.254.0.1 and every LAN statement failed with "reply: no route to 10.254.0.1"."""
    from nflens.policy.flows import host_sample, sample

    host = read_snapshot(LAB / "seed002_radius-broken")
    lan, nas = ipaddress.ip_network("10.254.0.0/16"), ipaddress.ip_network("10.254.10.0/24")
    assert str(host_sample(host, lan, [nas, lan])) == "10.254.20.1"
    assert host_sample(host, nas, [nas, lan]) == sample(nas)
    plan = make_plan(load_policy(str(POLICIES / "seed002-radius.yaml")), host)
    got = {j.probe.flow.name: (j.expect, j.after.verdict) for j in plan.verification.judged
           if j.probe.kind == "inbound" and str(j.probe.src) == "10.254.20.1"}
    assert got["inbound eth0:10.254.20.1 -> radius 10.254.10.252:1812/udp"] == ("deny", "deny")
    assert got["inbound eth0:10.254.20.1 -> syslog 10.254.10.252:514/udp"] == ("allow", "allow")
