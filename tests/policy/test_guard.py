"""The SSH guard understands what OpenSSH writes into SSH_CONNECTION and refuses what it cannot
understand (issue 16.6: a v4-mapped address or a 3/5-field value let the apply go ahead)."""

from __future__ import annotations

import ipaddress

import pytest

from nflens.policy.decide import Refused, decide
from nflens.policy.guard import Unreadable, cut_session, parse
from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from nflens.snapshot.read import read_snapshot
from tests.conftest import EXAMPLES, REPO

SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
POLICY001 = EXAMPLES / "policies" / "seed001-input-bypass.yaml"
WAN_SESSION = "198.51.100.2 51000 198.51.100.1 8080"  # into the published port, from the WAN


@pytest.fixture(scope="module")
def plan():
    return make_plan(load_policy(str(POLICY001)), read_snapshot(SEED001), "iptables")


@pytest.mark.parametrize("value, client, server", [
    ("198.51.100.2 51000 198.51.100.1 22", "198.51.100.2", "198.51.100.1"),
    ("2001:db8:1::2 51000 2001:db8:1::1 22", "2001:db8:1::2", "2001:db8:1::1"),
    ("::ffff:198.51.100.2 51000 ::ffff:198.51.100.1 22", "198.51.100.2", "198.51.100.1"),
    ("fe80::2%eth0 51000 fe80::1%eth0 22", "fe80::2", "fe80::1"),
])
def test_the_forms_openssh_writes(value, client, server):
    s = parse(value)
    assert (s.client, s.server) == (ipaddress.ip_address(client), ipaddress.ip_address(server))
    assert s.client_port == 51000 and s.server_port == 22


@pytest.mark.parametrize("value", [
    "198.51.100.2 51000 198.51.100.1", "198.51.100.2 51000 198.51.100.1 22 extra",
    "host.example 51000 198.51.100.1 22", "198.51.100.2 x 198.51.100.1 22",
    "198.51.100.2 51000 198.51.100.1 70000", "198.51.100.2 51000 2001:db8::1 22",
    "198.51.100.2 51000 198.51.100.1 ２２",
])
def test_any_other_value_is_not_understood(value):
    with pytest.raises(Unreadable):
        parse(value)


def test_a_v4_mapped_session_that_the_change_cuts_is_seen(plan):
    mapped = "::ffff:198.51.100.2 51000 ::ffff:198.51.100.1 8080"
    assert cut_session(plan.before, plan.after, WAN_SESSION) is not None
    assert cut_session(plan.before, plan.after, mapped) is not None
    with pytest.raises(Refused, match="cut your SSH session"):
        decide(plan, mapped, force=False)


@pytest.mark.parametrize("value", ["198.51.100.2 51000 198.51.100.1",
                                   "198.51.100.2 51000 198.51.100.1 8080 x", "garbage"])
def test_an_unreadable_session_refuses_and_force_warns_loudly(plan, value):
    with pytest.raises(Refused, match="cannot tell whether this change cuts your SSH session"):
        decide(plan, value, force=False)
    warnings = decide(plan, value, force=True).warnings
    assert any("cannot tell" in w and "--force" in w for w in warnings)


def test_no_session_and_a_session_the_change_keeps_are_fine(plan):
    assert not any("SSH" in w for w in decide(plan, None, force=False).warnings)
    assert decide(plan, "10.99.0.2 51000 10.99.0.1 8080", force=False) is not None
