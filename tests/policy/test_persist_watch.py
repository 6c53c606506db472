"""persist: the unit's shape and its ExecStart run for real in a namespace; watch: the
debounced loop on a fake event stream."""

from __future__ import annotations

import configparser
import subprocess

import pytest

from nflens.policy import watch as w
from nflens.policy.persist import exec_start, unit_text
from tests.conftest import EXAMPLES, REPO, scratch_netns

POLICY = EXAMPLES / "policies" / "seed001-input-bypass.yaml"
SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"


def test_unit_is_bound_to_docker_and_applies_without_a_timer(tmp_path):
    text = unit_text(POLICY, tmp_path)
    unit = configparser.ConfigParser(interpolation=None)
    unit.read_string(text)
    assert unit["Unit"]["After"] == "docker.service"
    assert unit["Unit"]["PartOf"] == "docker.service"
    assert unit["Install"]["WantedBy"] == "docker.service"
    assert unit["Service"]["Type"] == "oneshot"
    argv = exec_start(text)
    assert argv[argv.index("apply") + 1] == str(POLICY.resolve())
    assert argv[argv.index("--confirm-timeout") + 1] == "0"
    assert f"NFLENS_STATE_DIR={tmp_path}" in text


@pytest.mark.lab
def test_unit_command_applies_the_policy_inside_a_namespace(tmp_path):
    """What systemd would run at boot, run in a namespace holding the seed 001 host's rules."""
    argv = exec_start(unit_text(POLICY, tmp_path)) + ["--snapshot", str(SEED001)]
    with scratch_netns("nflt-unit", "iptables-restore", "nsenter") as ns:
        enter = ["nsenter", f"--net=/run/netns/{ns}", "--"]
        subprocess.run(enter + ["iptables-restore"], input=(SEED001 / "iptables-save.txt")
                       .read_text(), text=True, check=True)
        env = {"PYTHONPATH": str(REPO / "src"), "NFLENS_STATE_DIR": str(tmp_path),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        for _ in range(2):  # at boot, and again at the next Docker restart: same rules
            proc = subprocess.run(enter + argv, capture_output=True, text=True, env=env)
            assert proc.returncode == 0, proc.stderr
        save = subprocess.run(enter + ["iptables-save"], capture_output=True, text=True).stdout
    assert save.count("-A DOCKER-USER -j NFLENS-USER") == 1
    assert "--ctorigdstport 8080" in save and "-s 10.99.0.0/24" in save


def _event(kind: str, action: str) -> dict:
    return {"Type": kind, "Action": action}


def test_debouncer_applies_once_per_burst_and_ignores_noise():
    d = w.Debouncer(quiet=2, max_wait=10)
    d.feed(_event("container", "exec_start: sh"), 0)
    d.feed(_event("image", "pull"), 0)
    assert not d.due(100)
    for t in (0, 0.5, 1.0):
        d.feed(_event("container", "start"), t)
    assert not d.due(2.9)
    assert d.due(3.0)
    assert len(d.take()) == 3 and not d.due(10)


def test_debouncer_does_not_wait_forever_for_quiet():
    d = w.Debouncer(quiet=2, max_wait=5)
    for t in range(0, 6):
        d.feed(_event("network", "connect"), t)
        if d.due(t):
            break
    assert t == 5


def test_run_applies_after_the_stream_goes_quiet():
    bursts = []
    events = [_event("container", "start"), _event("network", "connect"),
              _event("container", "attach")]
    w.run(iter(events), bursts.append, quiet=0.05, tick=0.01)
    assert [len(b) for b in bursts] == [2]


def test_run_without_relevant_events_never_applies():
    bursts = []
    w.run(iter([_event("image", "pull")]), bursts.append, quiet=0.05, tick=0.01)
    assert bursts == []


def test_follow_reconnects_after_the_daemon_restarts():
    """dockerd stops (its stream ends), does not answer twice, comes back: the next stream
    starts with a `daemon reconnect` event (a reason to re-apply); a broken connection counts
    as an ended stream. Before, the watch loop returned when the first stream ended."""

    def broken():
        yield _event("container", "start")
        raise ConnectionError("connection reset")

    plan = [iter([_event("container", "start"), _event("container", "die")]),
            OSError("Cannot connect to the Docker daemon"), OSError("still starting"),
            broken(), iter([_event("network", "connect")])]
    calls, sleeps, logs = [], [], []

    def connect():
        item = plan[len(calls)]
        calls.append(item)
        if isinstance(item, Exception):
            raise item
        return item

    got = []
    for ev in w.follow(connect, retry=0.5, stop=lambda: len(calls) == len(plan) and
                       len(got) >= 6, sleep=sleeps.append, log=logs.append):
        got.append(ev)
        if len(got) == 7:
            break
    assert got == [_event("container", "start"), _event("container", "die"), w.RECONNECTED,
                   _event("container", "start"), w.RECONNECTED, _event("network", "connect")]
    assert sleeps == [0.5, 0.5]
    assert sum(m.startswith("waiting for Docker") for m in logs) == 1  # once per outage


@pytest.mark.timeout(10)
def test_watch_loop_applies_again_after_a_reconnect():
    """Two bursts: the start event, then (after the daemon was down for two retries, longer
    than the quiet time) the reconnect."""
    plan = [iter([_event("container", "start")]), OSError("down"), OSError("down"), iter([])]

    def connect():
        item = plan.pop(0) if plan else OSError("down")
        if isinstance(item, Exception):
            raise item
        return item

    bursts = []
    stop = lambda: len(bursts) >= 2  # noqa: E731
    w.run(w.follow(connect, retry=0.1, stop=stop), bursts.append, quiet=0.05, tick=0.01,
          stop=stop)
    assert [[e["Type"] for e in b] for b in bursts] == [["container"], ["daemon"]]
