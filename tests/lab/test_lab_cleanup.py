"""Nothing outlives a lab run: not a clean run, not a second run, not a SIGKILLed run."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nflens.lab import netns
from nflens.lab.netns import Lab, cleanup_stale, leftovers

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dockerd", "busybox", "nsenter", "iptables")),
    reason="needs dockerd, busybox-static, nsenter and iptables")


def _root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _mounts(run_id: str) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f"nflens-lab/{run_id}" in line or f"nfl-{run_id}" in line]


def _assert_gone(run_id: str) -> None:
    assert leftovers(run_id) == []
    assert _mounts(run_id) == []
    assert not list(Path("/run/netns").glob(f"nfl-{run_id}-*"))
    assert not (netns.STATE_ROOT / run_id).exists()
    assert not (netns.DATA_ROOT / run_id).exists()


def test_namespaces_and_links_are_removed_and_root_is_untouched():
    before = _root_links()
    with Lab() as lab:
        host = lab.add_netns("host")
        client = lab.add_netns("lan")
        lab.add_veth(host, "eth0", client, "eth0")
        lab.add_addr(host, "eth0", "10.99.0.1/24")
        assert Path(f"/run/netns/{host}").exists()
        assert _root_links() == before
    _assert_gone(lab.id)
    assert _root_links() == before


def test_an_exception_inside_the_lab_still_tears_it_down():
    with pytest.raises(RuntimeError), Lab() as lab:
        lab.add_netns("host")
        raise RuntimeError("boom")
    _assert_gone(lab.id)


@needs_tools
def test_two_runs_in_a_row_leave_nothing_behind():
    from nflens.lab import run
    from nflens.lab.scenarios import load

    before = _root_links()
    ids = []
    for _ in range(2):
        report = run.run(load("seed003"), "none", rounds=1)
        ids.append(report.run_id)
        assert {o.name: o.outcome for o in report.outcomes}["lan-web"] == "allow"
    for run_id in ids:
        _assert_gone(run_id)
    assert _root_links() == before


KILLED_RUN = """
import sys
from nflens.lab import run
from nflens.lab.scenarios import load
run.run(load("seed001"), "broken", rounds=50, run_id=sys.argv[1])
"""


@needs_tools
def test_a_sigkilled_run_is_removed_by_cleanup_stale():
    run_id = secrets.token_hex(3)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, run_id],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_containers(run_id, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    # the killed run's dockerd, containerd, shims, proxies and containers are still up
    assert any(item.startswith("process") for item in leftovers(run_id))
    assert run_id in cleanup_stale()
    _assert_gone(run_id)
    assert not any(str(netns.STATE_ROOT / run_id) in p for p in _cmdlines())


def _wait_for_containers(run_id: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the run is probing: its state lists dockerd and a container cgroup has a process."""
    deadline = time.monotonic() + timeout
    state_file = netns.STATE_ROOT / run_id / "state.json"
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the lab run ended before it could be killed"
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if any(p["graceful"] for p in state["procs"]) and netns._pids_in_cgroups(
                    state["cgroups"]):
                time.sleep(1.0)  # now well inside probing
                return
        time.sleep(0.2)
    pytest.fail("the lab run never got its containers up")


def _cmdlines() -> list[str]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out
