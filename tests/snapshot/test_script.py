"""`nflens snapshot script`: valid POSIX sh, and the same snapshot as `collect()` (no root).

The equivalence test runs the rendered script and `collect()` against the same fake tools (sh
stubs on a PATH of their own, answering with the example snapshot's real outputs, one tool
failing, one absent, one printing non-JSON) and the same fake filesystem root for daemon.json
and persist/: every file both write must be byte-for-byte the same, and the files neither could
collect must be recorded with the same reasons. The lab test (test_script_lab.py) does the same
against a real kernel and a real dockerd.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from nflens.snapshot import persist
from nflens.snapshot.collect import COMMANDS, DOCKER_FILES, MISSING_FILE, collect
from nflens.snapshot.script import render
from tests.conftest import EXAMPLES

SNAP = EXAMPLES / "snapshot-example"
# what the script itself runs (besides the tools it collects from)
UTILITIES = ("sh", "sed", "tr", "dd", "tail", "cat", "mkdir", "mktemp", "rm", "id", "wc", "grep",
             "dirname", "basename", "cp", "mv", "tar", "gzip", "timeout")


def test_the_script_is_valid_posix_sh_for_every_shell_present(tmp_path):
    path = tmp_path / "collect.sh"
    path.write_text(render())
    shells = [["sh", "-n"], ["dash", "-n"], ["busybox", "sh", "-n"], ["bash", "--posix", "-n"]]
    ran = 0
    for argv in shells:
        if shutil.which(argv[0]) is None:
            continue
        proc = subprocess.run(argv + [str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, (argv, proc.stderr)
        ran += 1
    assert ran >= 1


def test_the_script_runs_every_collector_command_and_no_other():
    text = render()
    for file, argv in COMMANDS:
        assert f"run {file} {shlex.join(argv)} && put {file}" in text
    for file in DOCKER_FILES:
        assert file in text
    for rel in persist.FIXED:
        assert rel in text
    for pattern in persist.GLOBS:
        assert f'"$ROOT"/{pattern}' in text
    # read-only: nothing that changes the firewall, links or Docker
    for verb in ("iptables -", "nft add", "nft flush", "ip link set", "docker rm", "docker stop",
                 "-restore", "sysctl -w"):
        assert verb not in text.replace("(-restore)?", "")


def _stub(tool_dir: Path, tool: str, cases: dict[str, tuple[int, str | Path, str]]) -> None:
    """An sh script answering `tool ARGS` from `cases`: ARGS -> (exit, stdout text or file,
    stderr)."""
    lines = ["#!/bin/sh", 'case "$*" in']
    for args, (rc, out, err) in cases.items():
        body = f"cat {shlex.quote(str(out))}" if isinstance(out, Path) else \
            f"printf %s {shlex.quote(out)}"
        lines.append(f"  {shlex.quote(args)}) {body}; printf %s {shlex.quote(err)} >&2; "
                     f"exit {rc} ;;")
    lines += ['  *) echo "stub: unexpected $*" >&2; exit 64 ;;', "esac"]
    path = tool_dir / tool
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)


def _fake_host(tmp_path: Path, docker_up: bool, complete: bool = False,
               userland: str = "system", podman_up: bool = False) -> Path:
    """A PATH of stubs and the script's own utilities (this machine's, or BusyBox's applets as
    on Alpine or a rescue system); returns the PATH directory. `complete`: every tool answers."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in UTILITIES:
        real = shutil.which(tool if userland == "system" else "busybox")
        if real is None:
            pytest.skip(f"{tool if userland == 'system' else 'busybox'} not installed")
        (bin_dir / tool).symlink_to(real)
    ip_cases = {" ".join(argv[1:]): (0, SNAP / file, "") for file, argv in COMMANDS
                if argv[0] == "ip"}
    _stub(bin_dir, "ip", ip_cases)
    _stub(bin_dir, "iptables-save", {"": (0, SNAP / "iptables-save.txt", "")})
    _stub(bin_dir, "ip6tables-save", {"": (1, "", "\n ip6tables-save v1.8.9 (nf_tables): "
                                                "Permission denied (you must be root)\n")})
    _stub(bin_dir, "nft", {"-j list ruleset": (0, "Error: JSON support not compiled-in\n", "")})
    if complete:
        for tool in ("ip6tables-save", "ebtables-save"):
            _stub(bin_dir, tool, {"": (0, SNAP / f"{tool}.txt", "")})
        _stub(bin_dir, "nft", {"-j list ruleset": (0, SNAP / "nft.json", "")})
        _stub(bin_dir, "ipset", {"save": (0, "create ban hash:ip family inet\nadd ban "
                                             "192.0.2.7\n", "")})
    # no ebtables-save at all; ss without its final newline
    _stub(bin_dir, "ss", {"-Htlnupe": (0, SNAP.joinpath("ss.txt").read_text().rstrip("\n"), "")})
    _stub(bin_dir, "sysctl", {"-a": (0, SNAP / "sysctl.txt", "")})
    if docker_up:
        _stub(bin_dir, "docker", {
            "info --format {{json .}}": (0, SNAP / "docker-info.json", ""),
            "version --format {{json .}}": (0, SNAP / "docker-version.json", ""),
            "ps -aq": (0, "", ""),
            "network ls -q": (0, "5d2f\n9a01\n", ""),
            "network inspect 5d2f 9a01": (0, SNAP / "docker-networks.json", "")})
    else:
        _stub(bin_dir, "docker", {"info --format {{json .}}": (
            1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n")})
    if complete or podman_up:
        _stub_podman(bin_dir)
    return bin_dir


PODMAN_CONTAINER = ('{"Id":"c0ffee","Name":"web","State":{"Status":"running"},"HostConfig":'
                    '{"NetworkMode":"bridge","PortBindings":{"80/tcp":[{"HostIp":"",'
                    '"HostPort":"8080"}]}},"NetworkSettings":{"Ports":{},"Networks":{}},'
                    '"Config":{"Image":"busybox","Labels":null},"ImageName":"busybox","Pod":""}')


def _stub_podman(bin_dir: Path) -> None:
    """A rootful podman with one container and one network (outputs shaped as podman's)."""
    from nflens.snapshot import podmanfiles

    _stub(bin_dir, "podman", {
        "info --format json": (0, '{"host": {"networkBackend": "netavark"}}\n', ""),
        "ps -aq": (0, "c0ffee\n", ""),
        f"inspect --format {podmanfiles.CONTAINER_FORMAT} c0ffee": (0, PODMAN_CONTAINER + "\n",
                                                                    ""),
        "network ls -q": (0, "podman\nweb\n", ""),
        "network inspect podman web": (0, '[{"name": "podman"}, {"name": "web"}]\n', "")})


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    files = {
        "etc/docker/daemon.json": '{"userland-proxy": false}\n',
        "etc/nftables.conf": "flush ruleset\ntable inet f {}\n",
        "etc/iptables/rules.v4": "#" * (persist.MAX_BYTES + 1),  # too big: left out by both
        "etc/systemd/system/fw.service": "[Service]\nExecStart=/usr/sbin/iptables-restore r\n",
        "etc/systemd/system/after.service": "[Unit]\nAfter=nftables.service\n",  # no tool word
        "etc/systemd/system/web.service.d/override.conf": "[Service]\nExecStartPost=nft -f x\n",
        "usr/lib/systemd/system/plain.service": "[Service]\nExecStart=/bin/true\n",
        "etc/firewalld/zones/public.xml": "<zone/>\n",
        "etc/fail2ban/jail.local": "[sshd]\nenabled = true\n",
        "etc/fail2ban/jail.d/defaults-debian.conf": "[sshd]\nbackend = systemd\n",
        persist.SECRETS: "mode: iptables\napi_key: s3cr3t-lapi-key\niptables_chains:\n  - INPUT\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _missing(root: Path) -> dict[str, str]:
    path = root / MISSING_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split(": ", 1) for line in lines)


def _run_script(tmp_path: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "collect.sh"
    script.write_text(render())
    env = {"PATH": str(bin_dir), "TMPDIR": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run([str(bin_dir / "sh"), str(script), *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.mark.parametrize("userland", ["system", "busybox"])
@pytest.mark.parametrize("docker_up", [True, False], ids=["docker", "no-docker-daemon"])
def test_the_script_writes_what_collect_writes(tmp_path, monkeypatch, docker_up, userland):
    _script_and_collect_agree(tmp_path, monkeypatch, docker_up, userland)


@pytest.mark.parametrize("userland", ["system", "busybox"])
def test_podman_files_are_written_alike_by_script_and_collect(tmp_path, monkeypatch, userland):
    """Issue 27: podman-info/-containers/-networks.json and containers.conf(.d) in persist/."""
    root = _fake_root(tmp_path)
    for rel in ("etc/containers/containers.conf", "etc/containers/containers.conf.d/fw.conf"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text('[network]\nfirewall_driver = "nftables"\n')
    want = _script_and_collect_agree(tmp_path, monkeypatch, False, userland, podman_up=True)
    assert json.loads(want["podman-containers.json"]) == [json.loads(PODMAN_CONTAINER)]
    assert json.loads(want["podman-networks.json"])[1]["name"] == "web"
    assert "podman-info.json" in want
    assert "persist/etc/containers/containers.conf.d/fw.conf" in want
    assert "persist/etc/containers/containers.conf" in want


def test_podman_absent_is_recorded_missing_with_its_reason(tmp_path, monkeypatch):
    bin_dir = _fake_host(tmp_path, docker_up=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    report = collect(tmp_path / "snap", persist_root=_fake_root(tmp_path))
    missing = dict(report.missing)
    assert "command not found" in missing["podman-info.json"]
    assert missing["podman-containers.json"] == "podman did not answer `podman info`"
    assert missing["podman-networks.json"] == "podman did not answer `podman info`"


def test_the_podman_template_never_names_the_environment():
    from nflens.snapshot import podmanfiles

    assert "Env" not in podmanfiles.CONTAINER_FORMAT
    assert ".Config.Labels" in podmanfiles.CONTAINER_FORMAT
    assert '"Id":{{json .ID}}' in podmanfiles.CONTAINER_FORMAT  # the struct's Go name


def _script_and_collect_agree(tmp_path, monkeypatch, docker_up, userland, podman_up=False):
    """Collect and run the script on one fake host; both trees equal; returns collect's."""
    bin_dir = _fake_host(tmp_path, docker_up, userland=userland, podman_up=podman_up)
    root = _fake_root(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    by_collect = tmp_path / "a" / "snap"
    collect(by_collect, persist_root=root, daemon_json=root / "etc/docker/daemon.json")
    by_script = tmp_path / "b" / "snap"
    proc = _run_script(tmp_path, bin_dir, "--root", str(root), str(by_script))
    assert proc.returncode == 0, proc.stderr

    want, got = _tree(by_collect), _tree(by_script)
    assert sorted(got) == sorted(want)
    for name in want:
        if name != MISSING_FILE:
            assert got[name] == want[name], name
    assert "persist/etc/systemd/system/fw.service" in want
    assert "persist/etc/systemd/system/after.service" not in want
    assert "persist/etc/iptables/rules.v4" not in want
    assert b"s3cr3t" not in got[f"persist/{persist.SECRETS}"]
    assert "persist/etc/fail2ban/jail.d/defaults-debian.conf" in want
    assert ("docker-networks.json" in want) is docker_up
    # the same files missing, for the same reasons (the script cannot quote the JSON decoder)
    m_collect, m_script = _missing(by_collect), _missing(by_script)
    assert sorted(m_script) == sorted(m_collect)
    for name, reason in m_collect.items():
        if name == "nft.json":
            assert reason.startswith(m_script[name]) and m_script[name] == "output is not JSON"
        else:
            assert m_script[name] == reason, name
    assert "command not found" in m_script["ebtables-save.txt"]
    assert "Permission denied" in m_script["ip6tables-save.txt"]
    assert not list(tmp_path.glob("nflens-collect.*")), "the script left its temp dir behind"
    return {k: v.decode() for k, v in want.items()}


@pytest.mark.parametrize("userland", ["system", "busybox"])
def test_the_script_writes_one_tarball_with_the_snapshot_inside(tmp_path, userland):
    bin_dir = _fake_host(tmp_path, docker_up=False, userland=userland)
    root = _fake_root(tmp_path)
    out = tmp_path / "web1.tar.gz"
    proc = _run_script(tmp_path, bin_dir, "--no-docker", "--root", str(root), "--tar", str(out))
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "web1/iptables-save.txt" in names and "web1/persist/etc/nftables.conf" in names
    assert all(n == "web1" or n.startswith("web1/") for n in names)
    missing = _missing_in_tar(out)
    assert missing["docker-info.json"] == "skipped (--no-docker)"
    assert not list(tmp_path.glob("nflens-collect.*"))


def _missing_in_tar(path: Path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        data = tar.extractfile(f"{path.name.removesuffix('.tar.gz')}/{MISSING_FILE}").read()
    return dict(line.split(": ", 1) for line in data.decode().splitlines())


def test_the_script_refuses_bad_arguments_with_exit_2(tmp_path):
    script = tmp_path / "collect.sh"
    script.write_text(render())
    for args in ([], ["--bogus"], ["a", "b"], ["--root", str(tmp_path / "nope"), "d"]):
        proc = subprocess.run(["sh", str(script), *args], capture_output=True, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip()


def test_snapshot_script_cli_prints_the_script():
    proc = subprocess.run([sys.executable, "-m", "nflens", "snapshot", "script"],
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == render() and proc.stdout.startswith("#!/bin/sh\n")


def test_a_record_of_an_earlier_run_does_not_survive_a_complete_one(tmp_path, monkeypatch):
    bin_dir = _fake_host(tmp_path, docker_up=True, complete=True)
    root = _fake_root(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    for who in ("collect", "script"):
        out = tmp_path / who
        out.mkdir()
        (out / MISSING_FILE).write_text("nft.json: an earlier run failed\n")
        if who == "collect":
            report = collect(out, persist_root=root, daemon_json=root / "etc/docker/daemon.json")
            assert report.missing == []
        else:
            assert _run_script(tmp_path, bin_dir, "--root", str(root), str(out)).returncode == 0
        assert not (out / MISSING_FILE).exists(), who
