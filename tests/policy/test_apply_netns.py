"""apply / confirm / rollback on a real kernel, in a scratch network namespace loaded with a
lab snapshot's rules: rollback is exact, a failure midway keeps the old rules, the lock and a
pending apply refuse a second one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from nflens.errors import PolicyError
from nflens.lab.netns import Lab
from nflens.policy import state
from nflens.policy.apply import apply_plan
from nflens.policy.live import host_for
from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.lab
LAB = REPO / "tests" / "fixtures" / "lab"
SEED001 = LAB / "seed001_input_bypass-broken"
POLICY001 = EXAMPLES / "policies" / "seed001-input-bypass.yaml"


def _ns_run(ns: str, argv: list[str], stdin: str | None = None) -> str:
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--"] + argv, input=stdin,
                          capture_output=True, text=True, check=True).stdout


def _dump(ns: str) -> dict[str, str]:
    """Every ruleset of the namespace, without the timestamp comments."""
    out = {}
    for tool in (["iptables-save"], ["ip6tables-save"], ["ebtables-save"],
                 ["nft", "list", "ruleset"]):
        text = _ns_run(ns, tool)
        out[tool[0]] = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    return out


@pytest.fixture
def docker_host_ns():
    """A namespace holding the seed 001 host's iptables/ip6tables/ebtables rules."""
    with lab_netns("apply", "iptables-restore", "nft", "ebtables-restore") as ns:
        _ns_run(ns, ["iptables-restore"], (SEED001 / "iptables-save.txt").read_text())
        _ns_run(ns, ["ip6tables-restore"], (SEED001 / "ip6tables-save.txt").read_text())
        yield ns


@contextmanager
def lab_netns(role: str, *needs: str):
    """A namespace of the lab registry (nfl-<id>-<role>): removed even after a crash."""
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(needs)}")
    with Lab() as lab:
        yield lab.add_netns(role)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    full_env.pop("SSH_CONNECTION", None)
    if env and "SSH_CONNECTION" in env:
        full_env["SSH_CONNECTION"] = env["SSH_CONNECTION"]
    return subprocess.run([sys.executable, "-m", "nflens", "policy", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


def _apply(ns: str, root, *extra: str, policy=POLICY001, snapshot=SEED001):
    return _cli("apply", str(policy), "--snapshot", str(snapshot), "--netns", ns,
                "--state-dir", str(root), *extra)


def _wait_gone(path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.parametrize("dialect", ["iptables", "nft"])
def test_unconfirmed_apply_rolls_back_exactly(docker_host_ns, tmp_path, dialect):
    before = _dump(docker_host_ns)
    proc = _apply(docker_host_ns, tmp_path, "--confirm-timeout", "1", "--dialect", dialect)
    assert proc.returncode == 0, proc.stderr
    applied = _dump(docker_host_ns)
    assert applied != before
    assert ("NFLENS-USER" in applied["iptables-save"]) == (dialect == "iptables")
    assert ("table inet nflens" in applied["nft"]) == (dialect == "nft")
    _wait_gone(tmp_path / "pending.json", 15)
    assert _dump(docker_host_ns) == before
    assert json.loads((tmp_path / "last.json").read_text())["event"] == "rolled-back"


def test_confirmed_apply_stays(docker_host_ns, tmp_path):
    assert _apply(docker_host_ns, tmp_path, "--confirm-timeout", "2").returncode == 0
    assert "confirmed" in _cli("confirm", "--state-dir", str(tmp_path)).stdout
    time.sleep(3)
    assert "NFLENS-INBOUND" in _dump(docker_host_ns)["iptables-save"]
    assert json.loads((tmp_path / "last.json").read_text())["event"] == "confirmed"


def test_reapply_is_idempotent_and_rollback_returns_to_the_previous_policy(docker_host_ns,
                                                                            tmp_path):
    assert _apply(docker_host_ns, tmp_path, "--confirm-timeout", "0").returncode == 0
    first = _dump(docker_host_ns)
    assert _apply(docker_host_ns, tmp_path, "--confirm-timeout", "0").returncode == 0
    assert _dump(docker_host_ns) == first
    open_policy = tmp_path / "open.yaml"
    open_policy.write_text("version: 1\n")
    assert _apply(docker_host_ns, tmp_path, "--confirm-timeout", "60",
                  policy=open_policy).returncode == 0
    assert _dump(docker_host_ns) != first
    assert "rolled back" in _cli("rollback", "--state-dir", str(tmp_path)).stdout
    assert _dump(docker_host_ns) == first


def test_failure_midway_keeps_the_old_rules(docker_host_ns, tmp_path):
    """The iptables step succeeds, the nft step after it fails: iptables is rolled back."""
    before = _dump(docker_host_ns)
    host = host_for(SEED001, docker_host_ns, None, rules_live=True)
    plan = make_plan(load_policy(str(POLICY001)), host, check=False)
    plan = replace(plan, payloads={"iptables": plan.payloads["iptables"],
                                   "nft": '{"nftables": [{"add": {"bogus": 1}}]}'})
    with pytest.raises(PolicyError, match="apply of nft.*the previous rules are back in place"):
        apply_plan(plan, state.state_dir(tmp_path), docker_host_ns, 60)
    assert _dump(docker_host_ns) == before
    assert state.pending(tmp_path) is None


def test_pending_apply_refuses_a_second_one(docker_host_ns, tmp_path):
    assert _apply(docker_host_ns, tmp_path, "--confirm-timeout", "60").returncode == 0
    second = _apply(docker_host_ns, tmp_path, "--confirm-timeout", "60")
    assert second.returncode == 2 and "not confirmed yet" in second.stderr
    _cli("rollback", "--state-dir", str(tmp_path))


def test_lock_refuses_a_concurrent_apply(docker_host_ns, tmp_path):
    before = _dump(docker_host_ns)
    root = state.state_dir(tmp_path)
    with state.locked(root):
        proc = _apply(docker_host_ns, tmp_path, "--confirm-timeout", "0")
    assert proc.returncode == 2 and "holds" in proc.stderr and "Traceback" not in proc.stderr
    assert _dump(docker_host_ns) == before


def test_change_that_cuts_the_ssh_session_is_refused(docker_host_ns, tmp_path):
    """An SSH session from the WAN into the published port 8080 (say, a bastion container)."""
    before = _dump(docker_host_ns)
    proc = _cli("apply", str(POLICY001), "--snapshot", str(SEED001), "--netns", docker_host_ns,
                "--state-dir", str(tmp_path), "--confirm-timeout", "0",
                env={"SSH_CONNECTION": "198.51.100.2 51000 198.51.100.1 8080"})
    assert proc.returncode == 2 and "cut your SSH session" in proc.stderr
    assert _dump(docker_host_ns) == before
    lan = _cli("apply", str(POLICY001), "--snapshot", str(SEED001), "--netns", docker_host_ns,
               "--state-dir", str(tmp_path), "--confirm-timeout", "0",
               env={"SSH_CONNECTION": "10.99.0.2 51000 10.99.0.1 8080"})
    assert lan.returncode == 0, lan.stderr


def test_take_over_ebtables_rolls_back_exactly(tmp_path):
    seed000 = LAB / "seed000_web2-broken"
    with lab_netns("eb", "iptables-restore", "ebtables-restore") as ns:
        _ns_run(ns, ["iptables-restore"], (seed000 / "iptables-save.txt").read_text())
        _ns_run(ns, ["ebtables-restore"], (seed000 / "ebtables-save.txt").read_text())
        before = _dump(ns)
        assert "ARP -j DROP" in before["ebtables-save"] or "-p ARP" in before["ebtables-save"]
        proc = _apply(ns, tmp_path, "--confirm-timeout", "1",
                      policy=EXAMPLES / "policies" / "seed000-web2.yaml", snapshot=seed000)
        assert proc.returncode == 0, proc.stderr
        assert "-p ARP" not in _dump(ns)["ebtables-save"]
        _wait_gone(tmp_path / "pending.json", 15)
        assert _dump(ns) == before
