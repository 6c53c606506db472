"""`nflens audit` and `nflens matrix` as CONTRACT §4 calls them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED

LAB = REPO / "tests" / "fixtures" / "lab"


def run(*args):
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True,
                          text=True, cwd=REPO)


def test_audit_json_has_the_contract_shape():
    proc = run("audit", "--snapshot", str(LAB / "seed001_input_bypass-broken"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    entry = next(e for e in out["exposure"]
                 if e["host_port"] == 8080 and e["host_addr"] == "0.0.0.0")
    assert set(entry) >= {"proto", "host_addr", "host_port", "target", "reachable_from"}
    assert {r["iface"] for r in entry["reachable_from"]} == {"eth0", "eth1"}
    assert all(isinstance(r["sources"], list) for r in entry["reachable_from"])
    finding = next(f for f in out["findings"] if f["id"] == "input-bypass")
    assert finding["severity"] in ("high", "medium", "low", "info")
    assert set(finding) >= {"id", "severity", "title", "explanation", "rules", "fix"}


def test_audit_of_a_missing_snapshot_is_exit_2():
    proc = run("audit", "--snapshot", "/nonexistent/snap")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _dump():
    path = SHARED / "corpus" / "fffuu-oracle" / "config_eduroam_laptop_iptables-save"
    if not path.exists():
        pytest.skip("../shared is absent")
    return path


def test_matrix_json():
    proc = run("matrix", str(_dump()), "--chain", "INPUT", "--dport", "22", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    by_range = {tuple(v): k for k, v in out["classes"].items()}
    lo = by_range[("127.0.0.0-127.255.255.255",)]
    assert [lo, lo] in out["edges"]


def test_matrix_bad_input_is_exit_2(tmp_path):
    assert run("matrix", "/nonexistent", "--dport", "22").returncode == 2
    proc = run("matrix", str(_dump()), "--chain", "NOPE", "--dport", "22")
    assert proc.returncode == 2 and "no chain 'NOPE'" in proc.stderr
    bad = tmp_path / "ipassmt"
    bad.write_text("eth0 = [not-an-address]\n")
    proc = run("matrix", str(_dump()), "--dport", "22", "--ipassmt", str(bad))
    assert proc.returncode == 2 and f"{bad}:1:" in proc.stderr
