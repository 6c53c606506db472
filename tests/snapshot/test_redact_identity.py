"""Issue 29.3: `snapshot redact` removes what identifies the host and the analysis does not need
(environment values, MAC addresses, the hostname, Docker IDs), says what it removed, and the
analysis of the copy is the analysis of the original up to the renamed identifiers.

Before: redact replaced public addresses only; `Config.Env` (passwords), every MAC, the
hostname and every container and network ID were copied as they were.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil

import pytest

from nflens.snapshot.redact import HOSTNAME, redact
from tests.conftest import EXAMPLES
from tests.inprocess import LAB, run_main

SNAP = EXAMPLES / "snapshot-example"
CASES = [SNAP] + [LAB / n for n in ("seed000_web2-broken", "docker_versions-forward-drop",
                                    "firewalld_zones-zones", "ufw_docker-broken",
                                    "internal_net-proxy")]
_MAC = re.compile(r"(?<![0-9A-Fa-f:])([0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5})(?![0-9A-Fa-f:])")
_HEX = re.compile(r"(?<![0-9a-f])([0-9a-f]{64}|[0-9a-f]{12})(?![0-9a-f])")


def _copy(src, dst):
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _mac_bytes(text: str) -> bytes:
    return bytes(int(p, 16) for p in text.split(":"))


def _back(text: str, report) -> str:
    """The redacted answer with every stand-in turned back into the real name."""
    ids = {v: k for k, v in report.ids.items()} | {v[:12]: k[:12] for k, v in report.ids.items()}
    macs = {_mac_bytes(v): _mac_bytes(k) for k, v in report.macs.items()}
    text = _HEX.sub(lambda m: ids.get(m.group(1), m.group(1)), text)

    def mac(m: re.Match) -> str:
        real = macs.get(_mac_bytes(m.group(1)))
        if real is None:
            return m.group(1)
        short = any(len(p) == 1 for p in m.group(1).split(":"))
        return ":".join(f"{b:x}" if short else f"{b:02x}" for b in real)
    text = _MAC.sub(mac, text)
    for real, stand_in in report.addresses.items():
        text = text.replace(stand_in, real)
    return text


def _answers(snap) -> tuple[str, str]:
    audit = run_main("audit", "--snapshot", snap, "--json")
    assert audit.code == 0, audit.err
    flows = snap / "flows.json"
    check = run_main("check", "--snapshot", snap, flows, "--json") if flows.exists() else None
    return audit.out, (check.out if check is not None else "")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_analysis_of_a_redacted_copy_is_the_original_s_renamed(tmp_path, case):
    orig = _copy(case, tmp_path / "a" / "host")
    report = redact(orig, tmp_path / "b" / "host")
    red = tmp_path / "b" / "host"
    want_audit, want_check = _answers(orig)
    got_audit, got_check = _answers(red)
    assert json.loads(_back(got_audit, report)) == json.loads(want_audit)
    if want_check:
        assert json.loads(_back(got_check, report)) == json.loads(want_check)
    # and nothing identifying is left: no real MAC, ID (or its short form) or hostname
    assert report.macs and report.ids
    text = "\n".join(p.read_text() for p in red.rglob("*") if p.is_file())
    for real in report.ids:
        assert real[:12] not in text
    found = {_mac_bytes(m) for m in _MAC.findall(text)}
    assert not found & {_mac_bytes(m) for m in report.macs}
    if report.hostname:
        assert re.search(rf"\b{re.escape(report.hostname)}\b", (red / "sysctl.txt").read_text()) \
            is None


def test_an_old_snapshot_s_environment_is_removed_and_said(tmp_path):
    snap = _copy(SNAP, tmp_path / "old")
    objs = json.loads((snap / "docker-containers.json").read_text())
    for obj in objs:
        obj["Config"]["Env"] = ["POSTGRES_PASSWORD=hunter2", "PATH=/usr/bin"]
    objs[0]["Config"]["Labels"] = {"com.example.app": "shop"}
    (snap / "docker-containers.json").write_text(json.dumps(objs, indent=4))
    out = tmp_path / "shared.tar.gz"
    run = run_main("snapshot", "redact", snap, out)
    assert run.code == 0, run.err
    assert "environment: 4 value(s) of 2 container(s) removed" in run.out
    assert f"hostname vm -> {HOSTNAME}" in run.out
    assert "MAC address(es) replaced" in run.out and "container/network ID(s)" in run.out
    import tarfile

    with tarfile.open(out) as tar:
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert b"hunter2" not in blob and b"POSTGRES_PASSWORD" not in blob and b'"Env"' not in blob
    assert b"com.example.app" in blob  # labels are kept


def test_a_link_local_address_made_from_a_mac_follows_the_mac_s_stand_in(tmp_path):
    """fe80::42:acff:fe11:2 spells the MAC 02:42:ac:11:00:02 (modified EUI-64): it becomes
    the EUI-64 address of the MAC's stand-in, on the same interface."""
    snap = _copy(SNAP, tmp_path / "a")
    report = redact(snap, tmp_path / "b")
    links = json.loads((tmp_path / "b" / "ip-addr.json").read_text())
    checked = 0
    for link in links:
        mac = link.get("address")
        for a in link.get("addr_info", ()):
            addr = ipaddress.ip_address(a["local"])
            if addr.version == 6 and addr.is_link_local and addr.packed[11:13] == b"\xff\xfe":
                iid = addr.packed[8:]
                assert bytes([iid[0] ^ 2]) + iid[1:3] + iid[5:] == _mac_bytes(mac), link
                checked += 1
    assert checked and report.macs


@pytest.mark.parametrize("containers, info", [
    ("[" * 3000 + "]" * 3000, {"Name": "h", "Swarm": [1]}),
    (json.dumps([1, {"Config": []}, {"Config": {"Env": "x"}}, {"Config": {"Env": None}}]),
     ["not", "an", "object"]),
    ("[NaN]", "x"),
])
def test_redact_of_hostile_docker_files_is_no_traceback(tmp_path, containers, info):
    snap = tmp_path / "h"
    snap.mkdir()
    (snap / "docker-containers.json").write_text(containers)
    (snap / "docker-info.json").write_text(json.dumps(info))
    (snap / "sysctl.txt").write_text("kernel.hostname = \nkernel.domainname = (none)\n")
    run = run_main("snapshot", "redact", snap, tmp_path / "out")
    assert run.traceback is None and run.code == 0, run.err
