"""`fleet audit --fail-on/--baseline/--write-baseline` (CONTRACT §6, issue 29.5): exit 1 when a
finding of that severity or worse is reported or a host could not be read; a fleet baseline
accepts each finding on its own host."""

from __future__ import annotations

import json
import shutil

from tests.inprocess import LAB, run_main

FIXED = "seed001_input_bypass-fixed"  # direct-container-access (medium), not-persistent (info)


def _root(tmp_path, broken: bool):
    root = tmp_path / "fleet"
    shutil.copytree(LAB / FIXED, root / "web-1")
    if broken:
        (root / "broken").mkdir()
        (root / "broken" / "ip-addr.json").write_text("{")
    return root


def test_a_host_that_could_not_be_read_fails_the_gate(tmp_path):
    run = run_main("fleet", "audit", _root(tmp_path, broken=True), "--workers", "1", "--json",
                   "--fail-on", "high")
    assert run.code == 1, run.err
    assert json.loads(run.out)["summary"]["errors"] == ["broken"]
    assert "1 host(s) could not be read: broken" in run.err


def test_fleet_fail_on_and_a_baseline_written_per_host(tmp_path):
    root = _root(tmp_path, broken=False)
    base = tmp_path / "fleet-baseline.json"
    high = run_main("fleet", "audit", root, "--workers", "1", "--fail-on", "high",
                    "--write-baseline", base)
    assert high.code == 0, high.err
    entries = json.loads(base.read_text())["findings"]
    assert {e["host"] for e in entries} == {"web-1"}
    assert {e["id"] for e in entries} == {"direct-container-access", "not-persistent"}
    medium = run_main("fleet", "audit", root, "--workers", "1", "--fail-on", "medium")
    assert medium.code == 1
    accepted = run_main("fleet", "audit", root, "--workers", "1", "--json", "--fail-on", "info",
                        "--baseline", base)
    assert accepted.code == 0, accepted.err
    host = json.loads(accepted.out)["hosts"][0]
    assert host["findings"] == [] and host["baseline"] == {"left_out": 2}
