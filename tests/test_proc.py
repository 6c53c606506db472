"""The process seam itself (nflens.proc): the real runner's translation of what can go wrong at
the edge -- a program missing, one outliving its timeout, a spawned one still running after
`wait(timeout)` -- into the seam's own values, and the fake kept in step with it."""

from __future__ import annotations

import signal
import sys

import pytest

from nflens.proc import LOCAL, Completed, FakeRunner, Running

PY = sys.executable


def test_a_program_that_outlives_its_timeout_is_a_124_the_seam_marks_as_timed_out():
    got = LOCAL.run([PY, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert got.returncode == 124 and got.timed_out
    assert got.error == f"{PY}: timed out after 0.3s"


def test_a_program_that_itself_exits_124_is_not_a_timeout():
    got = LOCAL.run([PY, "-c", "import sys; sys.exit(124)"])
    assert got.returncode == 124 and not got.timed_out and got.error is None


def test_a_missing_program_is_a_127_not_an_exception():
    got = LOCAL.run(["/nonexistent/nflens-tool", "x"])
    assert (got.returncode, got.error) == (127, "/nonexistent/nflens-tool: command not found")
    assert not got.timed_out


def test_run_passes_stdin_and_cwd(tmp_path):
    got = LOCAL.run([PY, "-c", "import os, sys; print(os.getcwd(), sys.stdin.read())"],
                    stdin="fed", cwd=str(tmp_path))
    assert got.ok and got.stdout.split() == [str(tmp_path), "fed"]


def test_a_spawned_program_still_running_after_wait_raises_timeout_error():
    proc = LOCAL.spawn([PY, "-c", "import time; time.sleep(30)"])
    assert isinstance(proc, Running) and proc.poll() is None
    with pytest.raises(TimeoutError, match="still runs after 0.2s"):
        proc.wait(0.2)
    proc.terminate()
    assert proc.wait(10) == -signal.SIGTERM == proc.returncode


def test_the_fake_records_what_a_run_asked_for_and_its_processes_end_by_signal():
    runner = FakeRunner(lambda call: Completed(call.argv, 124, error="x: timed out after 1s"))
    got = runner.run(["x"], stdin="in", timeout=1, cwd="/tmp")
    assert got.timed_out
    [call] = runner.calls
    assert (call.stdin, call.cwd, call.timeout, call.spawned) == ("in", "/tmp", 1, False)
    proc = runner.spawn(["daemon"])
    assert proc.poll() is None and runner.calls[-1].spawned
    proc.kill()
    assert proc.signals == [signal.SIGKILL] and proc.wait() == -signal.SIGKILL
