"""Issue 16.8: a snapshot's files are read only if they are regular files inside it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nflens.errors import SnapshotError
from nflens.snapshot import safefile
from tests.inprocess import lab_copy, run_main

SECRET = "root:$6$SECRET-HASH-do-not-print:20228:0:99999:7:::"


@pytest.fixture
def secret(tmp_path):
    p = tmp_path / "shadow"
    p.write_text(SECRET + "\n")
    return p


@pytest.mark.parametrize("name", ["iptables-save.txt", "ss.txt", "sysctl.txt", "ip-addr.json",
                                  "nft.json"])
def test_a_snapshot_file_that_is_a_link_is_refused_and_its_target_never_printed(
        tmp_path, secret, name):
    snap = lab_copy(tmp_path)
    (snap / name).unlink()
    os.symlink(secret, snap / name)
    for cmd in (["snapshot", "show", snap], ["audit", "--snapshot", snap, "--no-verify"],
                ["check", "--snapshot", snap, snap / "flows.json"]):
        run = run_main(*cmd)
        assert run.traceback is None
        assert run.code == 2
        assert f"{name}: a symbolic link" in run.err
        assert "SECRET" not in run.out + run.err


def _in_subprocess(snap, timeout=60):
    return subprocess.run([sys.executable, "-m", "nflens", "snapshot", "show", str(snap)],
                          capture_output=True, text=True, timeout=timeout)


def test_a_fifo_in_a_snapshot_is_not_opened(tmp_path):
    snap = lab_copy(tmp_path)
    (snap / "ss.txt").unlink()
    os.mkfifo(snap / "ss.txt")
    proc = _in_subprocess(snap)  # the old reader blocked here forever
    assert proc.returncode == 2
    assert "ss.txt: a FIFO, not a regular file" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/proc/kmsg"), reason="no /proc/kmsg")
def test_a_link_to_proc_kmsg_does_not_hang(tmp_path):
    snap = lab_copy(tmp_path)
    (snap / "sysctl.txt").unlink()
    os.symlink("/proc/kmsg", snap / "sysctl.txt")
    proc = _in_subprocess(snap)
    assert proc.returncode == 2
    assert "a symbolic link" in proc.stderr


def test_a_link_to_an_endless_device_is_refused(tmp_path):
    snap = lab_copy(tmp_path)
    (snap / "ip-route.json").unlink()
    os.symlink("/dev/zero", snap / "ip-route.json")
    proc = _in_subprocess(snap)
    assert proc.returncode == 2 and "ip-route.json: a symbolic link" in proc.stderr


def test_a_persist_directory_that_links_out_is_not_entered(tmp_path, secret):
    snap = lab_copy(tmp_path)
    (snap / "persist").mkdir()
    (snap / "persist" / "etc").symlink_to(secret.parent, target_is_directory=True)
    (snap / "persist" / "nftables.conf").write_text("flush ruleset\n")
    (snap / "persist" / "units").symlink_to(secret)
    from nflens.snapshot import read_snapshot

    host = read_snapshot(snap)
    assert dict(host.persist) == {"nftables.conf": "flush ruleset\n"}
    assert any("persist/units is a symbolic link" in a for a in host.assumptions)
    assert all(SECRET not in text for _, text in host.persist)


@pytest.mark.parametrize("name", ["/etc/shadow", "../shadow", "persist/../../x", "a\0b", ""])
def test_names_outside_the_snapshot_are_refused(tmp_path, name):
    with pytest.raises(SnapshotError, match="not a path inside the snapshot"):
        safefile.read_bytes(tmp_path, name)


def test_a_missing_file_is_none_and_a_regular_one_is_read(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_bytes(b"x\xffy")
    assert safefile.read_bytes(tmp_path, "nope.txt") is None
    assert safefile.read_bytes(tmp_path, "a/nope.txt") is None
    assert safefile.read_text(tmp_path, "a/b.txt") == "x\ufffdy"


def test_an_oversized_file_is_refused(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    with pytest.raises(SnapshotError, match="more than the 1000"):
        safefile.read_bytes(tmp_path, "big.txt", limit=1000)


def test_an_unparsable_line_is_quoted_short_and_escaped(tmp_path):
    snap = lab_copy(tmp_path)
    line = "\x1b]0;owned\x07" + "A" * 500
    (snap / "sysctl.txt").write_text(line + "\n")
    (snap / "iptables-save.txt").write_text("*filter\n:INPUT ACCEPT [0:0] " + "B" * 500
                                            + " x\nCOMMIT\n")  # COMMIT: issue 29.13
    for name in ("sysctl.txt",):
        run = run_main("snapshot", "show", snap)
        assert run.code == 2 and name in run.err
        assert "\x1b" not in run.err and "\\x1b" in run.err
        assert "A" * 60 not in run.err


def test_redact_refuses_a_snapshot_with_a_link_and_never_copies_its_target(tmp_path, secret):
    from nflens.snapshot import redact

    snap = lab_copy(tmp_path)
    (snap / "ss.txt").unlink()
    os.symlink(secret, snap / "ss.txt")
    with pytest.raises(SnapshotError, match="ss.txt: a symbolic link"):
        redact(snap, tmp_path / "out")
    assert not any(SECRET in p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["iptables-save.txt", "sysctl.txt", "ip-addr.json"])
def test_a_snapshot_file_that_is_a_hard_link_is_refused_like_a_symlink(tmp_path, secret, name):
    """Issue 29.13: a hard link to /etc/shadow is a regular file to lstat; its first line was
    echoed in the parse error. A file with more than one link is refused, never read."""
    snap = lab_copy(tmp_path)
    (snap / name).unlink()
    os.link(secret, snap / name)
    for cmd in (["snapshot", "show", snap], ["audit", "--snapshot", snap, "--no-verify"],
                ["check", "--snapshot", snap, snap / "flows.json"]):
        run = run_main(*cmd)
        assert run.traceback is None
        assert run.code == 2, run.out
        assert f"{name}: a hard link (2 names for one file)" in run.err
        assert "SECRET" not in run.out + run.err


def test_a_hard_link_in_persist_or_redact_is_left_out(tmp_path, secret):
    snap = lab_copy(tmp_path)
    (snap / "persist").mkdir()
    os.link(secret, snap / "persist" / "units")
    from nflens.snapshot import read_snapshot

    host = read_snapshot(snap)
    assert dict(host.persist) == {}
    assert any("persist/units is a hard link" in a for a in host.assumptions)
    run = run_main("snapshot", "redact", snap, tmp_path / "out")
    assert run.code == 2 and "persist/units: a hard link" in run.err
    assert "SECRET" not in run.out + run.err
