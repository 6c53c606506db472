"""A jump loop (LA -> LB -> LA) gets no verdict from any command: the kernel refuses to load
such a ruleset, so check, trace, audit and matrix all stop with one error naming the rule."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, REPO

SNAP = EXAMPLES / "snapshot-example"
DECLARE = ":LA - [0:0]\n:LB - [0:0]\n"
LOOP = "-A INPUT -j LA\n-A LA -j LB\n-A LB -j LA\n"


def nflens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    snap = tmp_path_factory.mktemp("loop") / "snap"
    shutil.copytree(SNAP, snap)
    dump = snap / "iptables-save.txt"
    lines = dump.read_text().splitlines(keepends=True)
    at = lines.index("*filter\n") + 1
    commit = lines.index("COMMIT\n", at)
    dump.write_text("".join(lines[:at]) + DECLARE + "".join(lines[at:commit]) + LOOP
                    + "".join(lines[commit:]))
    line = commit + len(DECLARE.splitlines()) + 3  # the `-A LB -j LA` that closes the loop
    return snap, f"iptables-save.txt:{line}:"


@pytest.mark.parametrize("command", [
    ["check", "{flows}"], ["trace", "--from", "eth0:10.99.0.2", "--to", "10.99.0.1:8000/tcp"],
    ["audit"]])
def test_snapshot_commands_refuse_a_jump_loop_with_its_location(looped, command):
    snap, where = looped
    args = [a.replace("{flows}", str(SNAP / "flows.json")) for a in command]
    run = nflens(*args, "--snapshot", str(snap))
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert where in run.stderr and "LA -> LB -> LA" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_matrix_refuses_a_jump_loop_with_its_location(looped):
    snap, where = looped
    run = nflens("matrix", str(snap / "iptables-save.txt"), "--chain", "INPUT", "--dport", "22")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert where in run.stderr and "LA -> LB -> LA" in run.stderr, run.stderr
