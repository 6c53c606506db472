"""Issue 29.15: the options of every command: help texts, no `<bool>` on flags, one name per
command for its parallelism (the other a hidden alias), --snapshot wherever a snapshot goes,
DOCKER_HOST wherever Docker is asked, and a read-only `policy status`."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.inprocess import run_main

SNAP = EXAMPLES / "snapshot-example"


def _commands():
    from nflens.cli.main import _command, _register

    _register()
    out = []

    def walk(cmd, path):
        out.append((path, cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, path + (name,))

    walk(_command(), ())
    return out


def _find(*path):
    return dict(_commands())[path]


def test_every_option_and_argument_of_every_command_has_help():
    missing = [(" ".join(path), p.name) for path, cmd in _commands() for p in cmd.params
               if not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_no_flag_shows_a_bool_metavar():
    for path, _ in _commands():
        run = run_main(*path, "--help")
        assert run.code == 0, path
        assert "<bool>" not in run.out, (path, run.out)


def test_audit_takes_workers_as_a_hidden_alias_of_jobs():
    by_jobs = run_main("audit", "--snapshot", SNAP, "--no-verify", "--json", "--jobs", "1")
    by_workers = run_main("audit", "--snapshot", SNAP, "--no-verify", "--json", "--workers", "1")
    assert by_jobs.code == by_workers.code and by_workers.traceback is None, by_workers.err
    assert json.loads(by_jobs.out) == json.loads(by_workers.out)
    assert "--workers" not in run_main("audit", "--help").out


@pytest.mark.parametrize("path, alias, canonical", [
    (("fleet", "audit"), "--jobs", "--workers"), (("audit",), "--workers", "--jobs"),
    (("lab", "matrix"), "--workers", "--jobs")])
def test_the_other_name_parses_and_is_hidden(path, alias, canonical):
    cmd = _find(*path)
    args = ["x"] if path == ("fleet", "audit") else (["--snapshot", "x"] if path == ("audit",)
                                                     else [])
    ctx = cmd.make_context(path[-1], [*args, alias, "3"])
    assert 3 in ctx.params.values()
    help_text = run_main(*path, "--help").out
    assert canonical in help_text and alias not in help_text


def test_snapshot_show_and_redact_take_snapshot_as_an_option_too(tmp_path):
    positional = run_main("snapshot", "show", SNAP, "--json")
    option = run_main("snapshot", "show", "--snapshot", SNAP, "--json")
    assert option.code == 0 and json.loads(option.out) == json.loads(positional.out)
    run = run_main("snapshot", "show")
    assert run.code == 2 and "missing the snapshot: DIRECTORY or --snapshot" in run.err
    run = run_main("snapshot", "redact", "--snapshot", SNAP, tmp_path / "red")
    assert run.code == 0, run.err
    assert (tmp_path / "red" / "iptables-save.txt").is_file()


@pytest.mark.parametrize("path", [("snapshot", "collect"), ("policy", "plan"),
                                  ("policy", "apply"), ("policy", "persist"),
                                  ("policy", "watch")])
def test_docker_host_is_honoured_by_every_command_that_asks_docker(monkeypatch, path):
    monkeypatch.delenv("NFLENS_DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.9:2375")
    cmd = _find(*path)
    args = [] if path == ("snapshot", "collect") else ["p.yaml"]
    ctx = cmd.make_context(path[-1], args)
    assert ctx.params["docker_host"] == "tcp://10.0.0.9:2375"


def test_policy_status_writes_nothing(tmp_path):
    state = tmp_path / "state"
    run = run_main("policy", "status", "--state-dir", state)
    assert run.code == 0 and json.loads(run.out) == {"pending": None, "last": None}, run.err
    assert not state.exists()
    state.mkdir()
    run_main("policy", "status", "--state-dir", state)
    assert list(state.iterdir()) == []
