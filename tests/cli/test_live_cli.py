"""`trace|check|audit --live` (CONTRACT §6): this host collected by the same read-only collector
as `snapshot collect`, here with a FakeRunner answering every command from a real lab snapshot,
so the live answer must be exactly the answer on that snapshot."""

from __future__ import annotations

import importlib
import json
import tempfile
from functools import partial
from pathlib import Path

import pytest

from nflens.proc import Call, FakeRunner
from nflens.snapshot.collect import (
    COMMANDS,
    CONTAINER_FORMAT,
    DOCKER_COMMANDS,
    container_fields,
)
from tests.inprocess import LAB, run_main

SEED = LAB / "seed001_input_bypass-broken"
# the module (nflens.snapshot re-exports its function under the same name)
collect_mod = importlib.import_module("nflens.snapshot.collect")


def _ids(path: Path) -> str:
    return "\n".join(d["Id"] for d in json.loads(path.read_text())) + "\n"


def snapshot_runner(snap: Path) -> FakeRunner:
    """Every command of the collector answered with what that command wrote into `snap`."""
    answers: dict[tuple[str, ...], tuple[int, str, str]] = {}
    for name, argv in COMMANDS:
        f = snap / name
        answers[tuple(argv)] = (0, f.read_text(), "") if f.exists() else \
            (127, "", f"{argv[0]}: command not found")
    for name, args in DOCKER_COMMANDS:
        answers[("docker", *args)] = (0, (snap / name).read_text(), "")
    containers, networks = snap / "docker-containers.json", snap / "docker-networks.json"
    answers[("docker", "ps", "-aq")] = (0, _ids(containers), "")
    # Docker renders the collector's template: one object cut to the fields it keeps, per line
    cut = "".join(json.dumps(container_fields(c)) + "\n"
                  for c in json.loads(containers.read_text()))
    answers[("docker", "inspect", "--format", CONTAINER_FORMAT, *_ids(containers).split())] = \
        (0, cut, "")
    answers[("docker", "network", "ls", "-q")] = (0, _ids(networks), "")
    answers[("docker", "network", "inspect", *_ids(networks).split())] = \
        (0, networks.read_text(), "")

    def script(call: Call):
        return answers.get(call.tool, (1, "", f"unexpected command {call.tool}"))
    return FakeRunner(script)


@pytest.fixture
def live_is(monkeypatch, tmp_path):
    """--live collects from `snap` (a FakeRunner) into a temporary directory under tmp_path."""
    import nflens.snapshot.live as live

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runners: list[FakeRunner] = []

    def use(snap: Path) -> list[FakeRunner]:
        runner = snapshot_runner(snap)
        runners.append(runner)
        monkeypatch.setattr(collect_mod, "DAEMON_JSON", snap / "daemon.json")
        monkeypatch.setattr(live, "collect_host", partial(live.collect_host, runner=runner))
        return runners
    return use


def test_audit_live_answers_exactly_as_audit_of_the_same_snapshot(live_is, tmp_path):
    runners = live_is(SEED)
    live = run_main("audit", "--live", "--json", "--no-verify")
    given = run_main("audit", "--snapshot", SEED, "--json", "--no-verify")
    assert live.code == 0 and given.code == 0, live.err + given.err
    assert json.loads(live.out) == json.loads(given.out)
    assert ("iptables-save",) in runners[0].tools()  # it did collect, through the seam
    assert not list(tmp_path.glob("nflens-live-*"))  # the private directory is gone


def test_check_and_trace_live_answer_as_on_the_snapshot(live_is):
    live_is(SEED)
    flows = SEED / "flows.json"
    live = run_main("check", "--live", flows, "--json")
    given = run_main("check", "--snapshot", SEED, flows, "--json")
    assert live.code == given.code and json.loads(live.out) == json.loads(given.out)
    args = ("--from", "eth1:198.51.100.2", "--to", "198.51.100.1:8080/tcp", "--json")
    live, given = run_main("trace", "--live", *args), run_main("trace", "--snapshot", SEED, *args)
    assert live.code == 0 and json.loads(live.out) == json.loads(given.out)


def test_live_and_snapshot_together_is_a_usage_error():
    run = run_main("audit", "--live", "--snapshot", SEED)
    assert run.code == 2 and run.traceback is None
    assert "--live and --snapshot exclude each other" in run.err


def test_neither_live_nor_snapshot_is_a_usage_error():
    for args in (("audit",), ("trace", "--from", "host", "--to", "10.0.0.1:80/tcp")):
        run = run_main(*args)
        assert run.code == 2 and "give --snapshot DIR" in run.err and "--live" in run.err


def test_live_when_not_root_is_refused_before_anything_runs(monkeypatch, tmp_path):
    ran = []
    monkeypatch.setattr(collect_mod, "collect", lambda *a, **k: ran.append(a))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run = run_main("audit", "--live")
    assert run.code == 2 and run.traceback is None
    assert "audit --live: collecting this host's snapshot needs root" in run.err
    assert "sudo" in run.err and not ran and not list(tmp_path.iterdir())


def test_policy_collection_takes_the_same_path_and_is_refused_without_root(monkeypatch):
    from nflens.policy.live import host_for
    from nflens.snapshot.live import NotRoot

    ran = []
    monkeypatch.setattr(collect_mod, "collect", lambda *a, **k: ran.append(a))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(NotRoot, match="policy: collecting this host's snapshot needs root"):
        host_for(None, None, None, rules_live=False)
    assert not ran


def test_check_live_reports_a_flows_typo_before_collecting_anything(live_is, tmp_path):
    runners = live_is(SEED)
    flows = tmp_path / "flows.json"
    flows.write_text('{"flows": [{"name": "x", "from": {"host": true},\n'
                     ' "to": {"addr": "127.0.0.1", "port": 22, "protocol": "udp"}}]}\n')
    result = run_main("check", "--live", flows)
    assert result.code == 2 and "did you mean 'proto'" in result.err, result.err
    assert runners[0].tools() == []  # nothing was run on the host
