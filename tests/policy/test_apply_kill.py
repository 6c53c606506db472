"""Issue 16.1's proof on a real kernel: `policy apply` killed (SIGKILL, SIGINT, SIGTERM,
SIGHUP) right after each child process it runs exits, and at random moments, in a lab network
namespace with real iptables/ip6tables. Every end state is either "unchanged" (the rules are
byte-identical to before and no record is left) or "pending with a running timer" (a record
and its timer process alive), and `policy rollback` recovers each one to the rules before.
Also: the timer alone recovers a SIGKILLed apply; a rollback after a jump was deleted by hand,
one that cannot finish (kept record), a failing backup, a second state directory, a missing
namespace (16.2-16.5)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from nflens.proc import cmdline
from tests.conftest import EXAMPLES, REPO
from tests.policy.test_apply_netns import _dump, _ns_run, lab_netns

pytestmark = pytest.mark.lab
SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
POLICY001 = EXAMPLES / "policies" / "seed001-input-bypass.yaml"
IP6_FILTER = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
COMMIT
"""
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SRC = str(REPO / "src")
KILLS = 32


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(REPO)]), **extra}
    env.pop("SSH_CONNECTION", None)
    return env


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nflens", "policy", *args], capture_output=True,
                          text=True, env=env or _env(), timeout=120)


@pytest.fixture
def two_step_ns():
    """Seed 001's host with an IPv6 filter table too: the apply has two steps."""
    with lab_netns("kill", "iptables-restore", "ip6tables-restore") as ns:
        _ns_run(ns, ["iptables-restore"], (SEED001 / "iptables-save.txt").read_text())
        _ns_run(ns, ["ip6tables-restore"], IP6_FILTER)
        yield ns


def _driver(ns: str, root, at: int, sig: int, timeout: float = 300,
            env: dict | None = None, dialect: str = "iptables") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.policy.kill_driver", ns, str(root),
                           str(POLICY001), str(SEED001), str(timeout), str(at), str(int(sig)),
                           dialect],
                          capture_output=True, text=True, env=env or _env(), timeout=120,
                          cwd=REPO)


def _timer_alive(record: dict) -> bool:
    argv = cmdline(record["timer_pid"])
    return "nflens.policy.timer" in argv and record["token"] in argv


def _no_timer_left(tmp_path) -> None:
    """Every timer these applies started has ended (a SIGKILLed apply's timer whose record was
    never written gives up after timer.RECORD_WAIT)."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        left = [p for p in os.listdir("/proc") if p.isdigit()
                and "nflens.policy.timer" in cmdline(int(p))
                and any(str(tmp_path) in a for a in cmdline(int(p)))]
        if not left:
            return
        time.sleep(0.5)
    pytest.fail(f"timers left running: {left}")


def _settle_children() -> None:
    time.sleep(0.3)  # a SIGKILLed apply's running iptables-restore finishes on its own


def _classify_and_recover(ns: str, root, before: dict) -> str:
    """The end state's name; asserts it is one of the two allowed ones and recovers it."""
    _settle_children()
    pending = root / "pending.json"
    if not pending.exists():
        assert _dump(ns) == before, "no record, but the rules changed"
        return "unchanged"
    record = json.loads(pending.read_text())
    assert _timer_alive(record), f"a record without a running timer: {record['status']}"
    steps = "/".join(s["state"] for s in record["steps"])
    proc = _cli("rollback", "--state-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert _dump(ns) == before, "rollback did not restore the rules"
    assert not pending.exists()
    deadline = time.monotonic() + 5
    while _timer_alive(record) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _timer_alive(record), "the timer of a rolled-back apply still runs"
    again = _cli("rollback", "--state-dir", str(root))
    assert again.returncode == 0 and "nothing to roll back" in again.stdout
    return f"pending+timer ({record['status']}, steps {steps})"


@pytest.mark.parametrize("dialect", ["iptables", "nft"])
def test_kill_at_every_child_exit_leaves_unchanged_or_pending_with_timer(two_step_ns, tmp_path,
                                                                         dialect):
    """iptables: two steps (iptables-restore, ip6tables-restore); nft: one (`nft -j -f`)."""
    ns = two_step_ns
    before = _dump(ns)
    full = _driver(ns, tmp_path / "count", 0, signal.SIGKILL, timeout=0, dialect=dialect)
    assert full.returncode == 0, full.stderr
    children = int(full.stdout.split()[-1])
    _restore(ns, before)
    results: Counter[str] = Counter()
    for sig in SIGNALS:
        for at in range(1, children + 1):
            root = tmp_path / f"{sig.name}-{at}"
            proc = _driver(ns, root, at, sig, dialect=dialect)
            assert "Traceback" not in proc.stderr, proc.stderr
            state_name = _classify_and_recover(ns, root, before)
            results[f"{sig.name} after child {at}: {state_name}"] += 1
    print("\n".join(sorted(results)))
    _no_timer_left(tmp_path)
    names = " ".join(results)
    assert "unchanged" in names and "pending+timer (applying" in names
    assert len(results) == children * len(SIGNALS)


def _apply_argv(ns: str, root) -> list[str]:
    return [sys.executable, "-m", "nflens", "policy", "apply", str(POLICY001), "--snapshot",
            str(SEED001), "--netns", ns, "--state-dir", str(root), "--confirm-timeout", "300",
            "--dialect", "iptables", "--no-verify"]


def _window(ns: str, root, before: dict) -> tuple[float, float]:
    """(s until the record appears, s until the apply exits) of one undisturbed apply: the
    moments where a kill can find something half done."""
    start = time.monotonic()
    child = subprocess.Popen(_apply_argv(ns, root), env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    first = None
    while child.poll() is None:
        if first is None and (root / "pending.json").exists():
            first = time.monotonic() - start
        time.sleep(0.005)
    took = time.monotonic() - start
    assert child.returncode == 0
    _classify_and_recover(ns, root, before)
    return (first if first is not None else took * 0.8), took


def test_kill_at_random_moments(two_step_ns, tmp_path):
    """Random delays drawn over the window from just before the record is written to just
    after the apply ends (measured first): most kills land while something is half done."""
    ns = two_step_ns
    before = _dump(ns)
    windows = [_window(ns, tmp_path / f"w{i}", before) for i in range(2)]
    low = max(0.0, min(w[0] for w in windows) - 0.3)
    high = max(w[1] for w in windows) + 0.1
    rng = random.Random(16)
    seen: Counter[str] = Counter()
    for n in range(KILLS):
        sig = SIGNALS[n % len(SIGNALS)]
        root = tmp_path / f"r{n}"
        child = subprocess.Popen(_apply_argv(ns, root), env=_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(low, high))
        child.send_signal(sig)
        child.wait(60)
        name = _classify_and_recover(ns, root, before)
        seen[f"{sig.name}: {name.split(', steps')[0]}"] += 1
    print(f"window {low:.2f}-{high:.2f} s:", dict(seen))
    _no_timer_left(tmp_path)
    assert sum(seen.values()) == KILLS


def _restore(ns: str, before: dict) -> None:
    """Back to the fixture's rules (a confirm-timeout-0 apply leaves its rules)."""
    _ns_run(ns, ["iptables-restore"], (SEED001 / "iptables-save.txt").read_text())
    _ns_run(ns, ["ip6tables-restore"], IP6_FILTER)  # without --noflush: own chains go too
    _ns_run(ns, ["nft", "-f", "-"], "add table inet nflens\ndelete table inet nflens\n")
    assert _dump(ns) == before


def test_the_timer_alone_rolls_back_a_killed_apply(two_step_ns, tmp_path):
    ns = two_step_ns
    before = _dump(ns)
    count = _driver(ns, tmp_path / "count", 0, signal.SIGKILL, timeout=0)
    children = int(count.stdout.split()[-1])
    _restore(ns, before)
    # right after the first step's iptables-restore (the second to last child)
    env = _env(NFLENS_APPLY_GRACE="2")
    proc = _driver(ns, tmp_path / "s", children - 1, signal.SIGKILL, timeout=1, env=env)
    assert proc.returncode == -signal.SIGKILL
    assert _dump(ns) != before
    pending = tmp_path / "s" / "pending.json"
    deadline = time.monotonic() + 30
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pending.exists()
    assert _dump(ns) == before
    assert json.loads((tmp_path / "s" / "last.json").read_text())["event"] == "rolled-back"


def _apply(ns, root, *extra, env=None):
    return _cli("apply", str(POLICY001), "--snapshot", str(SEED001), "--netns", ns,
                "--state-dir", str(root), "--dialect", "iptables", *extra, env=env)


def test_rollback_after_the_input_jump_was_deleted_by_hand(two_step_ns, tmp_path):
    """16.2: the old all-or-nothing rollback failed on `-D INPUT -j NFLENS-INPUT` and dropped
    the record with 11 NFLENS lines left."""
    ns = two_step_ns
    before = _dump(ns)
    assert _apply(ns, tmp_path, "--confirm-timeout", "300").returncode == 0
    _ns_run(ns, ["iptables", "-D", "INPUT", "-j", "NFLENS-INPUT"])
    proc = _cli("rollback", "--state-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert _dump(ns) == before


def test_a_rollback_that_cannot_finish_keeps_the_record(two_step_ns, tmp_path):
    ns = two_step_ns
    before = _dump(ns)
    assert _apply(ns, tmp_path, "--confirm-timeout", "300").returncode == 0
    _ns_run(ns, ["iptables", "-A", "OUTPUT", "-j", "NFLENS-EGRESS"])  # by hand
    proc = _cli("rollback", "--state-dir", str(tmp_path))
    assert proc.returncode == 2 and "rollback incomplete" in proc.stderr
    assert "NFLENS-EGRESS" in proc.stderr and "Traceback" not in proc.stderr
    after = _dump(ns)
    assert "NFLENS-INPUT" not in after["iptables-save"]  # the rest went back
    assert after["ip6tables-save"] == before["ip6tables-save"]
    status = json.loads(_cli("status", "--state-dir", str(tmp_path)).stdout)
    assert status["pending"]["status"] == "rollback-incomplete"
    _ns_run(ns, ["iptables", "-D", "OUTPUT", "-j", "NFLENS-EGRESS"])
    assert _cli("rollback", "--state-dir", str(tmp_path)).returncode == 0
    assert _dump(ns) == before


def test_a_failing_backup_refuses_the_apply(two_step_ns, tmp_path):
    """16.3: ip6tables-save failing was stored as an empty backup and applied anyway."""
    ns = two_step_ns
    before = _dump(ns)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "ip6tables-save").write_text("#!/bin/sh\necho 'cannot lock' >&2\nexit 4\n")
    (fake_bin / "ip6tables-save").chmod(0o755)
    env = _env(PATH=f"{fake_bin}:{os.environ['PATH']}")
    proc = _apply(ns, tmp_path / "s", "--confirm-timeout", "300", env=env)
    assert proc.returncode == 2 and "ip6tables-save" in proc.stderr, proc.stderr
    assert _dump(ns) == before and not (tmp_path / "s" / "pending.json").exists()


def test_two_state_directories_on_one_namespace(two_step_ns, tmp_path):
    """16.4: the lock was per state directory; the second apply ran over the first."""
    ns = two_step_ns
    before = _dump(ns)
    assert _apply(ns, tmp_path / "a", "--confirm-timeout", "300").returncode == 0
    second = _apply(ns, tmp_path / "b", "--confirm-timeout", "300")
    assert second.returncode == 2 and "not confirmed yet" in second.stderr
    assert _cli("rollback", "--state-dir", str(tmp_path / "a")).returncode == 0
    assert _dump(ns) == before
