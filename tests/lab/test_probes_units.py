"""The lab's process-running logic behind nflens.proc, without root: a FakeRunner stands for the
tools, so what these modules run and how they read a timeout or a tool that cannot start is
fixed here, while the lab tests prove the same against the real kernel."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from nflens.errors import NflensError, ToolError
from nflens.lab import matrix, probes, udp
from nflens.lab.dockerd import Dockerd
from nflens.lab.fuzz.runner import Case, load
from nflens.lab.fuzz.world import World
from nflens.lab.mountns import HostMounts
from nflens.lab.netns import Lab
from nflens.proc import Completed, FakeRunner

NS = "nfl-abc123-c0"


def _timed_out(call):
    return Completed(call.argv, 124, error=f"{call.argv[0]}: timed out after 5s")


def _wget(addr: str = "10.99.0.1", port: int = 8080) -> tuple[str, ...]:
    return ("nsenter", f"--net=/run/netns/{NS}", "--", "busybox", "timeout", "2", "busybox",
            "wget", "-q", "-O-", f"http://{addr}:{port}/")


def test_a_tcp_probe_runs_the_hosts_busybox_wget_in_the_namespace():
    runner = FakeRunner(lambda call: "nflens:web\n")
    result = probes.from_netns(NS, "10.99.0.1", 8080, runner=runner)
    assert (result.outcome, result.token, result.detail) == ("allow", "nflens:web", "answered")
    [call] = runner.calls
    assert call.argv == _wget() and call.stdin is None
    assert call.timeout == probes.TIMEOUT + 3  # the second bound, behind busybox timeout's


def test_a_probe_the_runner_had_to_stop_is_a_hard_timeout_deny_without_a_handshake():
    runner = FakeRunner(_timed_out)
    result = probes.from_netns(NS, "10.99.0.1", 8080, runner=runner)
    assert (result.outcome, result.token, result.detail) == ("deny", None, "hard timeout")
    assert len(runner.calls) == 1  # not asked whether a handshake completed


def test_a_wget_stopped_by_busybox_timeout_is_told_apart_by_a_handshake():
    """busybox timeout's SIGTERM (143): nothing answered. A completed handshake means a mute
    listener (dockerd's port reservation), which the detail names."""
    answers = iter([(143, "", ""), (0, "", "")])
    runner = FakeRunner(lambda call: next(answers))
    result = probes.from_netns(NS, "10.99.0.1", 8080, runner=runner)
    assert result.outcome == "deny" and result.detail.startswith("handshake completed")
    wget, handshake = runner.calls
    assert handshake.tool[:3] == (sys.executable, "-I", "-c")
    assert handshake.tool[-2:] == ("10.99.0.1", "8080") and handshake.timeout == 4


@pytest.mark.parametrize("second", [(1, "", ""), "timeout"])
def test_no_handshake_either_leaves_the_no_answer_deny(second):
    answers = iter([(143, "", "")])
    runner = FakeRunner(lambda call: next(answers, None) or (
        _timed_out(call) if second == "timeout" else second))
    result = probes.from_netns(NS, "10.99.0.1", 8080, runner=runner)
    assert (result.outcome, result.detail) == ("deny", "no answer before the timeout")


def test_a_probe_client_that_cannot_start_is_an_error_not_a_deny():
    runner = FakeRunner(lambda call: Completed(call.argv, 127, error="nsenter: command not found"))
    with pytest.raises(ToolError, match="cannot probe with nsenter .*: nsenter: command not found"):
        probes.from_netns(NS, "10.99.0.1", 8080, runner=runner)


def test_a_udp_probe_runs_the_python_client_from_the_chosen_source():
    runner = FakeRunner(lambda call: "nflens:radius\n")
    result = probes.from_netns(NS, "10.254.10.252", 1812, "udp", src="10.254.20.5",
                               runner=runner)
    assert (result.outcome, result.token) == ("allow", "nflens:radius")
    [call] = runner.calls
    assert call.netns == NS and call.tool == tuple(udp.client_argv("10.254.10.252", 1812, 2,
                                                                   "10.254.20.5"))
    assert call.timeout == probes.TIMEOUT + 3


def test_a_udp_probe_the_runner_had_to_stop_is_a_hard_timeout_deny():
    result = probes.from_netns(NS, "10.254.10.252", 1812, "udp", runner=FakeRunner(_timed_out))
    assert (result.outcome, result.token, result.detail) == ("deny", None, "hard timeout")


def _world(runner: FakeRunner, tmp_path: Path) -> World:
    return World(Lab("abc123", runner=runner), {"r": "nfl-abc123-r"}, tmp_path)


def _case(iptables: str | None = "*filter\nCOMMIT\n", nft: str | None = None) -> Case:
    return Case(1, 0, 4, iptables, nft, [])


def test_a_fuzz_case_is_loaded_by_flush_restore_and_conntrack_flush(tmp_path):
    runner = FakeRunner()
    load(_world(runner, tmp_path), _case(nft="table inet t {}\n"))
    assert runner.tools() == [("nft", "flush", "ruleset"), ("ipset", "flush"),
                              ("ipset", "destroy"), ("iptables-restore",),
                              ("nft", "-f", "-"), ("conntrack", "-F", "-f", "ipv4")]
    assert {c.netns for c in runner.calls} == {"nfl-abc123-r"}
    assert [c.stdin for c in runner.calls[3:5]] == ["*filter\nCOMMIT\n", "table inet t {}\n"]


def test_a_case_with_policy_routing_sets_it_up_and_the_next_case_undoes_it(tmp_path):
    from nflens.lab.fuzz import gen_routing

    runner = FakeRunner()
    world = _world(runner, tmp_path)
    routed = Case(1, 0, 4, None, None, [],
                  routing=[["ip", "rule", "add", "pref", "100", "blackhole"]])
    load(world, routed)
    assert runner.tools()[0] == ("ip", "rule", "add", "pref", "100", "blackhole")
    runner.calls.clear()
    load(world, _case())
    assert runner.tools()[:len(gen_routing.UNDO)] == [tuple(a) for a in gen_routing.UNDO]
    runner.calls.clear()
    load(world, _case())
    assert runner.tools()[0] == ("nft", "flush", "ruleset")  # nothing left to undo


def test_routing_draws_are_ipv4_only_and_do_not_change_the_other_draws():
    from nflens.lab.fuzz import gen_routing
    from nflens.lab.fuzz.runner import draw_case

    assert all(not gen_routing.draw(7, i, 6) for i in range(50))
    assert sum(bool(gen_routing.draw(7, i, 4)) for i in range(50)) > 10
    case = draw_case(20261122, 3)
    assert case.routing == gen_routing.draw(20261122, 3, case.version)


def test_rules_the_kernel_refuses_make_an_invalid_case(tmp_path):
    runner = FakeRunner(lambda call: (1, "", "iptables-restore: line 2 failed\n")
                        if call.tool == ("iptables-restore",) else None)
    with pytest.raises(ToolError, match="iptables-restore: iptables-restore: line 2 failed"):
        load(_world(runner, tmp_path), _case())


def test_a_restore_that_times_out_stops_the_run_rather_than_blaming_the_rules(tmp_path):
    runner = FakeRunner(lambda call: _timed_out(call) if call.stdin else None)
    with pytest.raises(NflensError) as exc:
        load(_world(runner, tmp_path), _case())
    assert not isinstance(exc.value, ToolError)  # ToolError would count the case as invalid
    assert "timed out" in str(exc.value)


def test_a_matrix_cell_runs_one_lab_run_and_a_timeout_is_its_error(tmp_path):
    cell = matrix.Cell("28", "basic", "default", tmp_path / "out")
    runner = FakeRunner(_timed_out)
    got = matrix.run_cell(cell, rounds=3, runner=runner)
    assert got.error == f"exit 124: {sys.executable}: timed out after 5s" and got.flows == []
    [call] = runner.calls
    assert call.argv == (sys.executable, "-m", "nflens", "lab", "run", "basic", "--variant",
                         "default", "--docker", "28", "--out", str(tmp_path / "out"),
                         "--rounds", "3", "--json")
    assert call.timeout == matrix.CELL_TIMEOUT
    ok = FakeRunner(lambda call: '{"flows": [{"name": "a", "kernel": "allow"}]}')
    assert matrix.run_cell(cell, runner=ok).flows == [{"name": "a", "kernel": "allow"}]


def test_a_failing_mount_step_names_the_command_and_its_stderr(tmp_path, monkeypatch):
    runner = FakeRunner(lambda call: (32, "", "mount: permission denied\n"))
    mounts = HostMounts(Lab("abc123", runner=runner), "nfl-abc123-host")
    monkeypatch.setattr(Lab, "add_dir", lambda self, path, mounts=False: path)
    mounts.dir = tmp_path / "mnt"
    with pytest.raises(ToolError, match=r"mount --bind .*: exit 32: mount: permission denied"):
        mounts.create()
    assert runner.tools() == [("mount", "--bind", str(tmp_path / "mnt"), str(tmp_path / "mnt"))]


def test_dockerd_stop_terminates_the_spawned_daemon_through_the_seam():
    runner = FakeRunner()
    lab = Lab("abc123", runner=runner)
    d = Dockerd(lab, "nfl-abc123-host", install=object())
    d._proc = runner.spawn(["dockerd"])  # what Lab.spawn hands back: the seam's Process
    d.stop()
    assert d._proc.signals == [signal.SIGTERM] and d._proc.poll() == -signal.SIGTERM
