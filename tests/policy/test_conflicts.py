"""`policy plan` reports statements that cannot hold together as NOT OK, naming the one that
can never match (issue 16.7: it said OK)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
TWICE_8080 = """version: 1
inbound:
  ports:
    - {container: web, port: 8080, from: [10.99.0.0/24]}
    - {container: web, port: 8080, from: [any]}
"""
DENY_THEN_ALLOW = """version: 1
egress:
  - {network: bridge, default: deny}
  - {network: bridge, default: allow}
"""
CONTAINER_THEN_NETWORK = """version: 1
egress:
  - {network: bridge, default: deny}
  - {container: web, default: allow}
"""


def _plan(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return make_plan(load_policy(str(path)), read_snapshot(SEED001), "iptables")


def test_a_port_statement_after_one_for_the_same_port_cannot_hold(tmp_path):
    plan = _plan(tmp_path, TWICE_8080)
    assert not plan.ok
    [c] = plan.conflicts
    assert c.statement.startswith("inbound.ports[1]") and c.shadowed_by.startswith(
        "inbound.ports[0]")
    assert "can never match" in c.message and "10.99.0.0/24" in c.message


def test_deny_and_allow_for_one_network_egress_cannot_both_hold(tmp_path):
    plan = _plan(tmp_path, DENY_THEN_ALLOW)
    assert not plan.ok
    [c] = plan.conflicts
    assert c.statement.startswith("egress[1]") and "(deny vs allow)" in c.message


def test_a_container_statement_overriding_its_network_is_no_conflict(tmp_path):
    assert _plan(tmp_path, CONTAINER_THEN_NETWORK).conflicts == []


@pytest.mark.parametrize("text, name", [(TWICE_8080, "inbound.ports[1]"),
                                        (DENY_THEN_ALLOW, "egress[1]")])
def test_plan_says_not_ok_naming_the_statement(tmp_path, text, name):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    run = [sys.executable, "-m", "nflens", "policy", "plan", str(path), "--snapshot",
           str(SEED001), "--dialect", "iptables"]
    text_out = subprocess.run(run, capture_output=True, text=True)
    assert text_out.returncode == 1 and "NOT OK" in text_out.stdout
    assert f"CANNOT HOLD {name}" in text_out.stdout
    as_json = subprocess.run(run + ["--json"], capture_output=True, text=True)
    data = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and data["ok"] is False
    assert data["conflicts"][0]["statement"].startswith(name)
