"""Membership classes (issue 25): a set's members are kept together by `refine` instead of one
cell each, so a host banning N addresses costs a few simulations per exposure question, not
2N. The answers must be the slow path's, exactly: every audit key on the ban host and on the
fixtures that hold ipsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from nflens.analysis import partition
from nflens.analysis.audit import audit
from nflens.analysis.exposure import ExposureAnalysis
from nflens.snapshot.read import read_snapshot
from tests.analysis.test_exposure_big_ipset import ban_host

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fail2ban"


def _both(host) -> tuple[dict, dict]:
    slow_flag = partition.MEMBERSHIP_CLASSES
    try:
        partition.MEMBERSHIP_CLASSES = False
        slow = audit(host)
    finally:
        partition.MEMBERSHIP_CLASSES = slow_flag
    return slow, audit(host)


def test_the_ban_host_audit_is_the_slow_paths(tmp_path):
    slow, fast = _both(read_snapshot(ban_host(tmp_path, 300)[0]))
    assert fast == slow


@pytest.mark.parametrize("name", sorted(p.parent.name for p in FIXTURES.glob("*/ipset-save.txt")))
def test_fixture_audits_are_the_slow_paths(name):
    slow, fast = _both(read_snapshot(FIXTURES / name))
    assert fast == slow


def test_simulations_do_not_grow_with_the_set(tmp_path):
    """One exposure question on the WAN: the members and the gaps between them are each one
    class; before, 2 simulations per banned address."""
    counts = []
    for n in (200, 2000):
        host = read_snapshot(ban_host(tmp_path / str(n), n)[0])
        analysis = ExposureAnalysis(host)
        runs: list = []
        analysis.sim.run = _counting(analysis.sim.run, runs)  # type: ignore[method-assign]
        sock = next(s for s in host.sockets if s.port == 8000)
        analysis.socket(sock)
        counts.append(len(runs))
    assert counts[1] <= counts[0] + 5, counts
    assert counts[1] < 200, counts


def _counting(run, runs: list):
    def counted(flow):
        runs.append(flow)
        return run(flow)
    return counted
