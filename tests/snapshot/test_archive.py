"""A snapshot as one .tar.gz: every `--snapshot` reads it like the directory, and a tarball from
someone else's machine cannot write outside a temporary directory or fill the disk."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from nflens.errors import ParseError, SnapshotError
from nflens.snapshot import archive
from nflens.snapshot.archive import read_host, write_tar
from tests.conftest import EXAMPLES, REPO

SNAP = EXAMPLES / "snapshot-example"


def nflens(*args: str, tmp: Path | None = None) -> subprocess.CompletedProcess:
    env = None
    if tmp is not None:
        import os

        env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300, env=env)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    return write_tar(SNAP, tmp_path_factory.mktemp("tar") / "snapshot-example.tar.gz")


def test_a_tarball_holds_one_directory_named_like_the_snapshot(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        assert all(m.isfile() or m.isdir() for m in tar.getmembers())
    assert names[0] == "snapshot-example"
    assert all(n.startswith("snapshot-example/") for n in names[1:])
    assert "snapshot-example/iptables-save.txt" in names


@pytest.mark.parametrize("command", [
    ["audit", "--json"],
    ["check", str(SNAP / "flows.json"), "--json"],
    ["trace", "--from", "eth1:198.51.100.2", "--to", "198.51.100.1:8080/tcp", "--json"],
])
def test_every_snapshot_option_gives_the_same_answer_for_the_tarball(tarball, command, tmp_path):
    by_dir = nflens(*command, "--snapshot", str(SNAP))
    by_tar = nflens(*command, "--snapshot", str(tarball), tmp=tmp_path)
    assert by_tar.returncode == by_dir.returncode, by_tar.stderr
    assert json.loads(by_tar.stdout) == json.loads(by_dir.stdout)
    assert list(tmp_path.iterdir()) == [], "the extracted snapshot was not removed"


def test_snapshot_show_reads_a_tarball(tarball):
    by_dir, by_tar = (nflens("snapshot", "show", str(p), "--json") for p in (SNAP, tarball))
    assert by_tar.returncode == 0, by_tar.stderr
    assert json.loads(by_tar.stdout) == json.loads(by_dir.stdout)


def test_policy_plan_reads_a_tarball(tarball):
    policy = next((EXAMPLES / "policies").glob("*.y*ml"), None)
    if policy is None:
        pytest.skip("no example policy")
    # the example snapshot lacks the seed policy's containers: --allow-missing plans the rest
    by_dir = nflens("policy", "plan", str(policy), "--snapshot", str(SNAP), "--json",
                    "--allow-missing")
    by_tar = nflens("policy", "plan", str(policy), "--snapshot", str(tarball), "--json",
                    "--allow-missing")
    assert by_tar.returncode == by_dir.returncode, by_tar.stderr
    assert json.loads(by_tar.stdout) == json.loads(by_dir.stdout)


def test_redact_a_tarball_into_a_tarball_is_the_same_as_directories(tarball, tmp_path):
    assert nflens("snapshot", "redact", str(SNAP), str(tmp_path / "red")).returncode == 0
    run = nflens("snapshot", "redact", str(tarball), str(tmp_path / "red.tar.gz"))
    assert run.returncode == 0, run.stderr
    with tempfile.TemporaryDirectory() as tmp:
        root = archive.extract(tmp_path / "red.tar.gz", Path(tmp) / "x")
        assert root.name == "red"
        got = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    want = {p.relative_to(tmp_path / "red"): p.read_bytes()
            for p in (tmp_path / "red").rglob("*") if p.is_file()}
    assert got == want and got


def test_a_parse_error_inside_a_tarball_names_the_tarball_and_member(tmp_path):
    snap = tmp_path / "broken"
    snap.mkdir()
    (snap / "ip-addr.json").write_text("[{]\n")
    tar = write_tar(snap, tmp_path / "broken.tar.gz")
    with pytest.raises(ParseError) as info:
        read_host(tar)
    assert info.value.file == f"{tar}/broken/ip-addr.json"
    run = nflens("audit", "--snapshot", str(tar))
    assert run.returncode == 2
    assert run.stderr.startswith(f"{tar}/broken/ip-addr.json:1: ")
    assert "Traceback" not in run.stderr


def test_a_tarball_with_files_at_the_top_is_read_as_the_snapshot(tmp_path):
    path = tmp_path / "flat.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for f in SNAP.iterdir():
            tar.add(f, arcname=f"./{f.name}")
    host = read_host(path)
    assert host.name == "flat"
    assert host.files == read_host(SNAP).files


# --- hostile tarballs -------------------------------------------------------------------------

def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode="w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for k, v in kw.items():
        setattr(info, k, v)
    return info


HOSTILE = {
    "symlink": ([(_info("s/ss.txt", tarfile.SYMTYPE, linkname="/etc/shadow"), None)],
                "a symbolic link"),
    "hardlink": ([(_info("s/a", tarfile.REGTYPE), b"x"),
                  (_info("s/b", tarfile.LNKTYPE, linkname="s/a"), None)], "a hard link"),
    "device": ([(_info("s/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None)], "a device"),
    "fifo": ([(_info("s/fifo", tarfile.FIFOTYPE), None)], "a FIFO"),
    "absolute": ([(_info("/tmp/nflens-evil"), b"x")], "absolute"),
    "dotdot": ([(_info("s/../../nflens-evil"), b"x")], "`..`"),
    "twice": ([(_info("s/ss.txt"), b"a"), (_info("s/ss.txt"), b"b")], "appears twice"),
    "file-then-dir": ([(_info("s/x"), b"a"), (_info("s/x/y"), b"b")], "to be a directory"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_member_is_refused_with_its_name(case, tmp_path):
    members, why = HOSTILE[case]
    path = _tar(tmp_path / f"{case}.tar.gz", members)
    work = tmp_path / "tmp"
    work.mkdir()
    run = nflens("audit", "--snapshot", str(path), tmp=work)
    assert run.returncode == 2, run.stdout
    assert run.stderr.startswith(f"{path}: ") and why in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert list(work.iterdir()) == [], "the temporary directory was left behind"
    assert not (tmp_path / "nflens-evil").exists() and not Path("/tmp/nflens-evil").exists()


def test_a_member_larger_than_the_limit_is_refused_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 1000)
    path = _tar(tmp_path / "big.tar.gz", [(_info("s/sysctl.txt"), b"0" * 1001)])
    with pytest.raises(SnapshotError, match="1001 bytes, more than the 1000"):
        read_host(path)


def test_a_tarball_larger_than_the_total_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 1500)
    path = _tar(tmp_path / "many.tar.gz", [(_info(f"s/f{i}"), b"0" * 600) for i in range(3)])
    with pytest.raises(SnapshotError, match="more than 1500 bytes in all"):
        read_host(path)


def test_too_many_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    path = _tar(tmp_path / "wide.tar.gz", [(_info(f"s/d{i}", tarfile.DIRTYPE), None)
                                           for i in range(6)])
    with pytest.raises(SnapshotError, match="more than 5 members"):
        read_host(path)


@pytest.mark.parametrize("content", [b"not a tarball at all\n", b"\x1f\x8b\x08\x00garbage"])
def test_a_file_that_is_not_a_tarball_is_a_clear_error(tmp_path, content):
    path = tmp_path / "snap.tar.gz"
    path.write_bytes(content)
    run = nflens("audit", "--snapshot", str(path))
    assert run.returncode == 2
    # issue 29.10: the words of the issue, and none of tarfile's internals
    assert run.stderr.startswith(f"{path}: not a snapshot directory or tarball (")
    assert "ReadError" not in run.stderr and "method" not in run.stderr


def test_a_truncated_tarball_is_a_clear_error(tarball, tmp_path):
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    with pytest.raises(SnapshotError, match=r"not a snapshot directory or tarball \(truncated\)"):
        read_host(path)


def test_extracted_files_get_our_modes_not_the_archives(tmp_path):
    path = _tar(tmp_path / "modes.tar.gz", [(_info("s/ss.txt", mode=0o4777), b"x\n")])
    root = archive.extract(path, tmp_path / "out")
    assert (root / "ss.txt").stat().st_mode & 0o7777 == 0o600
