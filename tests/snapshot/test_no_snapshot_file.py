"""Issue 29.4 (CONTRACT §6): a directory or tarball with no snapshot file is bad input.

Before: an empty or wrong directory audited as a clean host ("0 finding(s)", exit 0) and
`snapshot show /etc/ssh` said "0 file(s) present", exit 0. Every command that reads a
snapshot now exits 2 with the hint; a hand-made partial snapshot (one file) still reads.
"""

from __future__ import annotations

import json
import tarfile

import pytest

from nflens.fleet.work import audit_host
from tests.conftest import EXAMPLES
from tests.inprocess import run_main

SNAP = EXAMPLES / "snapshot-example"
HINT = "no snapshot file found (expected iptables-save.txt"


def _not_a_snapshot(tmp_path):
    """What a wrong --snapshot looks like: /etc/ssh."""
    wrong = tmp_path / "ssh"
    wrong.mkdir()
    (wrong / "sshd_config").write_text("PermitRootLogin no\n")
    (wrong / "moduli").write_text("")
    return wrong


def _commands(snap):
    return [
        ["snapshot", "show", snap],
        ["snapshot", "show", snap, "--json"],
        ["audit", "--snapshot", snap],
        ["audit", "--snapshot", snap, "--json"],
        ["check", "--snapshot", snap, SNAP / "flows.json", "--json"],
        ["trace", "--snapshot", snap, "--from", "host", "--to", "127.0.0.1:22/tcp"],
        ["policy", "plan", EXAMPLES / "policies" / "seed001-input-bypass.yaml",
         "--snapshot", snap],
    ]


@pytest.mark.parametrize("kind", ["wrong", "empty", "tarball"])
@pytest.mark.parametrize("index", range(7))
def test_every_command_refuses_a_directory_without_a_snapshot_file(tmp_path, kind, index):
    if kind == "wrong":
        snap = _not_a_snapshot(tmp_path)
    elif kind == "empty":
        snap = tmp_path / "empty"
        snap.mkdir()
    else:
        snap = tmp_path / "host.tar.gz"
        with tarfile.open(snap, "w:gz") as tar:
            tar.add(_not_a_snapshot(tmp_path), arcname="host")
    run = run_main(*_commands(snap)[index])
    assert run.traceback is None and run.code == 2, (run.code, run.out, run.err)
    assert run.out == ""
    assert run.err.startswith(str(snap)) and HINT in run.err
    assert "nflens snapshot collect" in run.err


def test_the_parent_of_snapshots_names_one_level_down(tmp_path):
    """A fleet root given as --snapshot: the hint says where the snapshots are."""
    (tmp_path / "web1").mkdir()
    (tmp_path / "web1" / "ss.txt").write_text("")
    run = run_main("audit", "--snapshot", tmp_path)
    assert run.code == 2 and f"a snapshot is one level down ({tmp_path / 'web1'})" in run.err


def test_a_hand_made_partial_snapshot_of_one_file_still_audits(tmp_path):
    snap = tmp_path / "partial"
    snap.mkdir()
    (snap / "iptables-save.txt").write_bytes((SNAP / "iptables-save.txt").read_bytes())
    run = run_main("audit", "--snapshot", snap, "--json")
    assert run.code == 0, run.err
    assert "findings" in json.loads(run.out)


def test_a_snapshot_of_persist_files_only_still_reads(tmp_path):
    snap = tmp_path / "persist-only"
    (snap / "persist" / "etc").mkdir(parents=True)
    (snap / "persist" / "etc" / "nftables.conf").write_text("flush ruleset\n")
    assert run_main("snapshot", "show", snap).code == 0


def test_fleet_audit_reports_such_a_host_as_an_error(tmp_path):
    """fleet audit: the host is a host error (not a clean host), the others are audited."""
    wrong = _not_a_snapshot(tmp_path)
    result = audit_host("ssh", str(wrong), "d")
    assert set(result) == {"host", "digest", "error"} and HINT in result["error"]
    good = audit_host("example", str(SNAP), "d")
    assert "error" not in good and "findings" in good
