"""The lab's Docker versions (nflens.lab.versions) without root or network: choosing a pinned
version among what apt offers, the mirror read from the machine's apt sources, a missing
version named in the error, and the fixture layout per version."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nflens.errors import NflensError
from nflens.lab import versions
from nflens.lab.matrix import fixture_dir, version_dirs
from nflens.proc import Completed, FakeRunner


def test_every_version_the_contract_names_is_pinned():
    assert versions.KEYS == ("20", "26", "28")
    assert [versions.get(k).version for k in versions.KEYS] == ["20.10.24", "26.1.5", "28.5.2"]
    # 28 brings sid's containerd 2.1 (Debian 12's 1.6 is too old for it); nobody brings runc
    assert {p.name for p in versions.get("28").packages} == {"docker.io", "containerd"}
    assert all(p.name != "runc" for v in versions.TESTED.values() for p in v.packages)
    assert versions.get("28.5.2") is versions.get("docker28") is versions.get("28")


def test_unknown_version_is_refused_with_the_known_ones():
    with pytest.raises(NflensError, match="unknown Docker version '27'; the lab runs 20, 26, 28"):
        versions.get("27")


@pytest.mark.parametrize("offered,chosen", [
    (["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"], "28.5.2+dfsg4-5"),  # the tested one
    (["28.5.2+dfsg4-7"], "28.5.2+dfsg4-7"),  # another Debian revision of the same upstream
])
def test_choose_takes_the_tested_version_or_the_same_upstream(offered, chosen):
    v = versions.get("28")
    assert versions._choose(v.packages[0], offered, v) == chosen


def test_choose_names_the_version_that_is_gone():
    v = versions.get("28")
    with pytest.raises(versions.VersionMissing) as exc:
        versions._choose(v.packages[0], ["29.0.1+dfsg1-1"], v)
    assert "Docker 28.5.2" in str(exc.value) and "docker.io 28.5.2" in str(exc.value)
    assert "29.0.1+dfsg1-1" in str(exc.value)


@pytest.mark.parametrize("debian,upstream", [("28.5.2+dfsg4-5", "28.5.2"),
                                             ("2.1.9~ds1-5", "2.1.9"), ("1:2.3-1", "2.3"),
                                             ("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5")])
def test_upstream_version(debian, upstream):
    assert versions._upstream(debian) == upstream


def test_mirror_is_read_from_deb822_sources_skipping_security(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\n# a comment\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert versions.mirror_from(tmp_path) == "http://mirror.example/debian"


def test_mirror_is_read_from_a_one_line_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian buster main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n")
    assert versions.mirror_from(tmp_path) == "http://mirror.example/debian"
    assert versions.mirror_from(tmp_path / "nothing") is None


def test_a_version_not_in_the_cache_is_missing_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "CACHE", tmp_path)
    with pytest.raises(versions.VersionMissing, match=r"Docker 26\.1\.5 .* is not in "):
        versions.provide("26")
    assert "Docker 28.5.2" in versions.available()["28"]


def test_a_cached_version_runs_its_own_binaries_and_proxy(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "CACHE", tmp_path)
    root = tmp_path / "docker" / "28.5.2"
    for rel in ("usr/sbin/dockerd", "usr/sbin/docker-proxy", "usr/bin/containerd"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("#!/bin/sh\n")
        os.chmod(root / rel, 0o755)
    (root / "manifest.json").write_text(json.dumps(
        {"packages": {"docker.io": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5"}}))
    got = versions.provide("28")
    assert got.dockerd == str(root / "usr/sbin/dockerd")
    assert got.proxy == str(root / "usr/sbin/docker-proxy")
    assert got.env_path().split(":")[0] == str(root / "usr/bin")  # its containerd first
    assert got.packages["containerd"] == "2.1.9+ds1-5"


def test_private_apt_never_names_the_machines_own_sources(tmp_path):
    opts = versions.PrivateApt(tmp_path).options()
    text = " ".join(opts)
    assert f"Dir::Etc::SourceList={tmp_path}/sources.list" in text
    assert "Dir::Etc::SourceParts=/dev/null" in text
    assert f"Dir::State::Lists={tmp_path}/lists" in text and f"Dir::Cache={tmp_path}/cache" in text
    assert "/etc/apt" not in text and "/var/lib/apt" not in text


def test_fixture_layout_per_version(tmp_path):
    assert fixture_dir(tmp_path, "20", "a-b") == tmp_path / "a-b"
    assert fixture_dir(tmp_path, "28", "a-b") == tmp_path / "docker28" / "a-b"
    for key in ("20", "26", "28"):
        d = fixture_dir(tmp_path, key, "s-v")
        d.mkdir(parents=True)
        (d / "expected.json").write_text("{}")
    dirs = version_dirs(tmp_path)
    assert {k: [p.relative_to(tmp_path) for p in v] for k, v in dirs.items()} == {
        "20": [Path("s-v")], "26": [Path("docker26/s-v")], "28": [Path("docker28/s-v")]}


def test_matrix_summary_counts_per_version_and_names_disagreements_and_drift(tmp_path):
    from nflens.lab.matrix import Cell, summary

    committed = tmp_path / "committed"
    for key in ("20", "28"):
        d = fixture_dir(committed, key, "s-v")
        d.mkdir(parents=True)
        (d / "expected.json").write_text(json.dumps({"expected": {"a": "allow", "b": "deny"}}))
    flows = [{"name": "a", "kernel": "allow", "simulator": "allow"},
             {"name": "b", "kernel": "allow", "simulator": "deny"}]  # moved, and disagrees
    cells = [Cell("20", "s", "v", fixture_dir(tmp_path / "new", "20", "s-v"), 3.0,
                  flows[:1]),
             Cell("28", "s", "v", fixture_dir(tmp_path / "new", "28", "s-v"), 4.0, flows),
             Cell("28", "s", "w", tmp_path / "x", 1.0, [], error="exit 2: boom")]
    rows = summary(cells, committed)
    assert [(r["docker"], r["variants"], r["probes"], r["agree"]) for r in rows] == [
        ("20.10.24", 1, 1, 1), ("28.5.2", 2, 2, 1)]
    assert rows[1]["disagree"] == ["s-v:b"] and rows[1]["drift"] == ["s-v:b"]
    assert rows[1]["errors"] == ["s-w: exit 2: boom"] and rows[0]["drift"] == []


def test_an_update_that_fetched_nothing_says_so_once(tmp_path, monkeypatch):
    """apt-get update exits 0 when no mirror answered; that must be the reason given (not "not
    offered"), and the next version must not wait for the network again."""
    runner = FakeRunner(lambda call: (
        "Err:1 http://127.0.0.1:9/debian trixie InRelease\n"
        "  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111)\n"))
    monkeypatch.setenv("NFLENS_LAB_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
    apt = versions.PrivateApt(tmp_path, runner)
    for _ in range(2):
        with pytest.raises(versions.VersionMissing) as exc:
            apt.update(lambda m: None)
        assert "fetched no package list of trixie/sid from http://127.0.0.1:9/debian" in str(
            exc.value) and "Could not connect" in str(exc.value)
    assert runner.tools() == [("apt-get", *apt.options(), "update")]
    assert (tmp_path / "sources.list").read_text().splitlines()[1].endswith(
        "http://127.0.0.1:9/debian sid main")


MADISON = (" docker.io | 28.5.2+dfsg4-5 | http://deb.example/debian sid/main amd64 Packages\n"
           " docker.io | 26.1.5+dfsg1-9+deb13u1+b1 | http://deb.example/debian trixie/main amd64"
           " Packages\n"
           " docker.io | 20.10.24+dfsg1-1+b3 | http://deb.example/debian bookworm/main amd64"
           " Packages\n")


def test_private_apt_asks_madison_and_downloads_into_its_own_folder(tmp_path):
    def script(call):
        if call.argv[-2:] == ("download", "docker.io=28.5.2+dfsg4-5"):
            (tmp_path / "debs" / "docker.io_28.5.2+dfsg4-5_amd64.deb").write_text("deb")
        return MADISON if "madison" in call.argv else None

    runner = FakeRunner(script)
    apt = versions.PrivateApt(tmp_path, runner)
    (tmp_path / "debs").mkdir()
    assert apt.versions("docker.io") == ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"]
    assert apt.download("docker.io", "28.5.2+dfsg4-5").name == "docker.io_28.5.2+dfsg4-5_amd64.deb"
    madison, download = runner.calls
    assert madison.argv == ("apt-cache", *apt.options(), "madison", "docker.io")
    assert download.argv == ("apt-get", *apt.options(), "download", "docker.io=28.5.2+dfsg4-5")
    assert download.cwd == str(tmp_path / "debs")  # apt-get download writes into its cwd
    assert madison.timeout == download.timeout == 600


@pytest.mark.parametrize(("answer", "why"), [
    (Completed(("apt-get",), 124, error="apt-get: timed out after 600s"),
     "apt-get download docker.io=1: apt-get: timed out after 600s"),
    (Completed(("apt-get",), 127, error="apt-get: command not found"),
     "apt-get download docker.io=1: apt-get: command not found"),
    ((100, "", "E: Version '1' for 'docker.io' was not found\n"),
     "apt-get download docker.io=1: exit 100: E: Version '1' for 'docker.io' was not found"),
])
def test_an_apt_step_that_times_out_fails_or_is_missing_is_a_missing_version(
        tmp_path, answer, why):
    apt = versions.PrivateApt(tmp_path, FakeRunner(lambda call: answer))
    with pytest.raises(versions.VersionMissing) as exc:
        apt.download("docker.io", "1")
    assert str(exc.value) == why


def test_the_machines_dockerd_is_asked_its_version(monkeypatch):
    monkeypatch.setattr(versions.shutil, "which", lambda name: "/usr/sbin/dockerd")
    runner = FakeRunner(lambda call: "Docker version 20.10.24+dfsg1, build 297e128\n"
                        if call.argv[-1] == "--version" else "20.10.24+dfsg1-1+b3")
    got = versions.provide("20", runner)
    assert runner.tools() == [("/usr/sbin/dockerd", "--version"),
                              ("dpkg-query", "-W", "-f", "${Version}", "docker.io")]
    assert got.dockerd == "/usr/sbin/dockerd"
    assert got.packages == {"docker.io": "20.10.24+dfsg1-1+b3"}
    other = FakeRunner(lambda call: "Docker version 24.0.5, build ced0996\n")
    with pytest.raises(versions.VersionMissing, match="machine's dockerd is 'Docker version 24"):
        versions.provide("20", other)
