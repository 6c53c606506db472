"""apply / rollback / confirm logic through the fake process runner (no root): what is backed
up, what is written before the first change, what is undone after a failure, a signal or a
crash at any call, and how a rollback copes with a firewall changed by hand (issue 16.1-16.5).
The same properties against the real tools: test_apply_netns.py, test_apply_kill.py (lab)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from nflens.errors import PolicyError
from nflens.policy import settle, state, target
from nflens.policy.apply import ApplyInterrupted, apply_plan
from nflens.policy.live import live_rules
from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from nflens.proc import Call, FakeRunner
from nflens.snapshot.read import read_snapshot
from tests.conftest import EXAMPLES, REPO
from tests.policy.fakefw import Crash, FakeFirewall, Table

SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
POLICY001 = EXAMPLES / "policies" / "seed001-input-bypass.yaml"


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NFLENS_RUN_DIR", str(tmp_path / "run"))


@pytest.fixture(scope="module")
def plan():
    """Seed 001's plan in two steps (iptables, then ip6tables: the fake's IPv6 filter table
    is a copy of the IPv4 one), as on a host with Docker's IPv6 on."""
    host = read_snapshot(SEED001)
    one = make_plan(load_policy(str(POLICY001)), host, "iptables", check=False)
    return replace(one, payloads={"iptables": one.payloads["iptables"],
                                  "ip6tables": one.payloads["iptables"]})


def _fw() -> FakeFirewall:
    v4 = (SEED001 / "iptables-save.txt").read_text()
    return FakeFirewall(Table.from_save(v4), Table.from_save(v4))


def _root(tmp_path, name="state"):
    return state.state_dir(tmp_path / name)


def _restores(runner: FakeRunner) -> list[Call]:
    return [c for c in runner.calls if c.tool[0].endswith("-restore")]


def test_a_backup_that_fails_refuses_the_apply(plan, tmp_path):
    fw = _fw()
    fw.fail = lambda call: (4, "", "iptables-save: can't lock") if call.tool == (
        "iptables-save",) else None
    runner = fw.runner()
    with pytest.raises(PolicyError, match="backup failed: `iptables-save`.*nothing was changed"):
        apply_plan(plan, _root(tmp_path), None, 60, runner=runner)
    assert _restores(runner) == [] and not any(c.spawned for c in runner.calls)
    assert state.pending(_root(tmp_path)) is None


def test_an_empty_backup_refuses_the_apply(plan, tmp_path):
    fw = _fw()
    fw.fail = lambda call: (0, "", "") if call.tool == ("ip6tables-save",) else None
    runner = fw.runner()
    with pytest.raises(PolicyError, match="ip6tables-save` printed no filter table"):
        apply_plan(plan, _root(tmp_path), None, 60, runner=runner)
    assert _restores(runner) == []


def test_the_record_and_the_timer_exist_before_the_first_change(plan, tmp_path):
    root = _root(tmp_path)
    seen = {}

    def before_call(call, n):
        if call.tool[0].endswith("-restore") and not seen:
            seen["pending"] = state.pending(root)
            seen["spawned"] = any(c.spawned for c in runner.calls)

    fw = _fw()
    fw.before_call = before_call
    runner = fw.runner()
    apply_plan(plan, root, None, 60, runner=runner)
    pending = seen["pending"]
    assert seen["spawned"] and pending["timer_pid"]
    assert [s["state"] for s in pending["steps"]] == ["started", "todo"]
    assert pending["steps"][0]["before"] == _fw().ip4.save()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_second_step_undoes_the_first(plan, tmp_path, sig):
    fw = _fw()
    before = fw.dump()
    root = _root(tmp_path)

    def before_call(call, n):
        if call.tool[0] == "ip6tables-restore" and call.stdin == plan.payloads["ip6tables"]:
            os.kill(os.getpid(), sig)

    fw.before_call = before_call
    with pytest.raises(ApplyInterrupted, match="previous rules are back in place") as exc:
        apply_plan(plan, root, None, 60, runner=fw.runner())
    assert exc.value.exit_code == 130
    assert fw.dump() == before
    assert state.pending(root) is None
    assert state.read_json(root / "last.json")["event"] == "rolled-back"
    assert signal.getsignal(sig) is not None  # handlers restored


def _count_calls(plan, tmp_path) -> int:
    fw = _fw()
    runner = fw.runner()
    apply_plan(plan, _root(tmp_path, "count"), None, 60, runner=runner)
    settle.rollback_pending(_root(tmp_path, "count"), runner=runner)
    return fw.count


def test_a_crash_at_any_call_leaves_unchanged_or_a_record_rollback_recovers(plan, tmp_path):
    """A crash (SIGKILL: no handler runs) just before each process call of an apply."""
    total = _count_calls(plan, tmp_path)
    outcomes = {}
    for at in range(1, total + 1):
        fw = _fw()
        before = fw.dump()
        root = _root(tmp_path, f"crash{at}")

        def before_call(call, n, at=at):
            if n == at:
                raise Crash()

        fw.before_call = before_call
        try:
            apply_plan(plan, root, None, 60, runner=fw.runner())
            outcomes[at] = "finished"
        except Crash:
            pass
        fw.before_call = lambda call, n: None
        pending = state.pending(root)
        if pending is None:
            assert fw.dump() == before, at
            outcomes.setdefault(at, "unchanged")
            continue
        assert pending["timer_pid"], at  # the record never exists without its timer
        outcomes.setdefault(at, f"pending ({pending['status']})")
        settle.rollback_pending(root, runner=fw.runner())
        assert fw.dump() == before, at
        assert state.pending(root) is None
        assert settle.rollback_pending(root, runner=fw.runner()) == "nothing to roll back"
    assert "unchanged" in outcomes.values() and "finished" in outcomes.values()
    assert any(o.startswith("pending (applying") for o in outcomes.values())


def test_a_crash_during_the_rollback_is_resumed_by_the_next_one(plan, tmp_path):
    fw = _fw()
    before = fw.dump()
    root = _root(tmp_path)
    apply_plan(plan, root, None, 60, runner=fw.runner())

    def crash_on_iptables(call, n):
        if call.tool == ("iptables-restore", "--noflush"):
            raise Crash()

    fw.before_call = crash_on_iptables
    with pytest.raises(Crash):
        settle.rollback_pending(root, runner=fw.runner())
    steps = {s["name"]: s["state"] for s in state.pending(root)["steps"]}
    assert steps == {"iptables": "done", "ip6tables": "undone"}
    fw.before_call = lambda call, n: None
    settle.rollback_pending(root, runner=fw.runner())
    assert fw.dump() == before


def test_rollback_after_our_input_jump_was_deleted_by_hand(plan, tmp_path):
    fw = _fw()
    before = fw.dump()
    root = _root(tmp_path)
    apply_plan(plan, root, None, 60, runner=fw.runner())
    fw.ip4.chains["INPUT"].remove("-A INPUT -j NFLENS-INPUT")
    runner = fw.runner()
    assert "rolled back" in settle.rollback_pending(root, runner=runner)
    assert fw.dump() == before
    assert not any("-D INPUT" in (c.stdin or "") for c in _restores(runner)
                   if c.tool[0] == "iptables-restore")


def test_a_rollback_that_cannot_finish_undoes_the_rest_and_keeps_the_record(plan, tmp_path):
    """Someone jumped to NFLENS-USER from FORWARD by hand: that chain cannot be deleted."""
    fw = _fw()
    before = fw.dump()
    root = _root(tmp_path)
    apply_plan(plan, root, None, 60, runner=fw.runner())
    fw.ip4.chains["FORWARD"].append("-A FORWARD -j NFLENS-USER")
    with pytest.raises(PolicyError, match="rollback incomplete.*NFLENS-USER") as exc:
        settle.rollback_pending(root, runner=fw.runner())
    assert "could not -X NFLENS-USER" in str(exc.value)
    assert "NFLENS-INPUT" not in fw.ip4.save()  # the rest went back
    assert fw.ip4.chains["DOCKER-USER"] == before_chains(before)["DOCKER-USER"]
    assert fw.ip6 is not None and fw.dump()[1] == before[1]
    record = state.pending(root)
    assert record["status"] == "rollback-incomplete"
    assert {s["name"]: s["state"] for s in record["steps"]} == {"iptables": "undo-failed",
                                                                "ip6tables": "undone"}
    fw.ip4.chains["FORWARD"].remove("-A FORWARD -j NFLENS-USER")
    assert "rolled back" in settle.rollback_pending(root, runner=fw.runner())
    assert fw.dump() == before and state.pending(root) is None


def before_chains(dump) -> dict[str, list[str]]:
    return Table.from_save(dump[0]).chains


def test_a_failed_step_is_undone_and_reported(plan, tmp_path):
    fw = _fw()
    before = fw.dump()
    fw.fail = lambda call: (1, "", "ip6tables-restore: line 3 failed") if (
        call.tool[0] == "ip6tables-restore" and call.stdin == plan.payloads["ip6tables"]) \
        else None
    root = _root(tmp_path)
    with pytest.raises(PolicyError, match="apply of ip6tables.*previous rules are back"):
        apply_plan(plan, root, None, 60, runner=fw.runner())
    assert fw.dump() == before and state.pending(root) is None


def test_a_second_state_directory_cannot_apply_over_a_pending_apply(plan, tmp_path):
    fw = _fw()
    first = _root(tmp_path, "one")
    apply_plan(plan, first, None, 60, runner=fw.runner())
    with pytest.raises(PolicyError, match=f"not confirmed yet \\(state directory {first}"):
        apply_plan(plan, _root(tmp_path, "two"), None, 60, runner=fw.runner())
    key = target.resolve(None).key
    with target.locked(key), pytest.raises(PolicyError, match="holds"):
        settle.rollback_pending(first, runner=fw.runner())
    settle.rollback_pending(first, runner=fw.runner())
    apply_plan(plan, _root(tmp_path, "two"), None, 0, runner=fw.runner())  # free again


def test_confirm_keeps_and_frees_the_target(plan, tmp_path):
    fw = _fw()
    root = _root(tmp_path)
    apply_plan(plan, root, None, 60, runner=fw.runner())
    assert settle.confirm(root).startswith("confirmed")
    assert "NFLENS-INPUT" in fw.ip4.save()
    assert not target.marker(target.resolve(None).key).exists()


def test_apply_to_a_namespace_that_does_not_exist_is_refused_by_name(plan, tmp_path):
    runner = FakeRunner()
    with pytest.raises(PolicyError, match="network namespace 'nfl-nope' does not exist"):
        apply_plan(plan, _root(tmp_path), "nfl-nope", 60, runner=runner)
    assert runner.calls == []


def test_an_unreadable_live_ruleset_is_an_error_not_an_empty_one():
    runner = FakeRunner(lambda call: (1, "", "iptables-save: Permission denied (you must be "
                                      "root)") if call.tool == ("iptables-save",) else "")
    with pytest.raises(PolicyError, match="cannot read the live rules: `iptables-save`"):
        live_rules(None, runner)
    missing = FakeRunner(lambda call: (127, "", "") if call.tool[0] != "iptables-save" else
                         (SEED001 / "iptables-save.txt").read_text())
    assert live_rules(None, missing).table("ip", "filter")  # a tool not installed: no rules


def test_status_hides_the_saved_rules(plan, tmp_path, capsys):
    from nflens.cli.policy_ops import status

    fw = _fw()
    root = _root(tmp_path)
    apply_plan(plan, root, None, 60, runner=fw.runner())
    status(state_dir=str(root))
    data = json.loads(capsys.readouterr().out)
    assert data["pending"]["status"] == "pending"
    assert all("before" not in s for s in data["pending"]["steps"])


def test_apply_to_a_namespace_that_does_not_exist(tmp_path):
    """16.5: it said "applied ()" with exit 0, a pending record and a timer."""
    for extra in ((), ("--force",)):
        proc = subprocess.run([sys.executable, "-m", "nflens", "policy", "apply", str(POLICY001),
                               "--snapshot", str(SEED001), "--netns", "nfl-000000-none",
                               "--state-dir", str(tmp_path), *extra], capture_output=True,
                              text=True, env={**os.environ, "NFLENS_RUN_DIR": str(tmp_path)})
        assert proc.returncode == 2
        assert "network namespace 'nfl-000000-none' does not exist" in proc.stderr
    assert not (tmp_path / "pending.json").exists() and "Traceback" not in proc.stderr


def test_a_record_of_the_previous_format_still_rolls_back(tmp_path):
    """pending.json as nflens wrote it before the journal (precomputed rollback, no target)."""
    root = _root(tmp_path)
    state.write_json(root / "pending.json", {
        "token": "t0", "backup": str(root / "backups" / "x"), "netns": None, "deadline": 0,
        "steps": [{"name": "nft", "rollback": "add table inet nflens\n"}]})
    runner = FakeRunner()
    assert "rolled back" in settle.rollback_pending(root, runner=runner)
    assert runner.calls[0].tool == ("nft", "-f", "-")
    assert state.pending(root) is None


def test_the_timer_gives_up_on_a_record_that_never_came(tmp_path, monkeypatch):
    """An apply SIGKILLed between starting its timer and writing its record changed nothing:
    its timer must not linger until the confirm deadline."""
    from nflens.policy import timer

    monkeypatch.setattr(timer, "RECORD_WAIT", 0.5)
    root = _root(tmp_path)
    start = time.monotonic()
    assert timer.main([str(root), "t0", "300"]) == 0
    assert time.monotonic() - start < 5


def test_the_timer_leaves_a_newer_apply_alone(tmp_path):
    from nflens.policy import timer

    root = _root(tmp_path)
    state.write_json(root / "pending.json", {"token": "newer", "deadline": 0, "steps": []})
    assert timer.main([str(root), "older", "0"]) == 0
    assert state.pending(root)["token"] == "newer"
