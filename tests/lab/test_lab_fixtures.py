"""The committed lab fixtures are consistent (no root needed): every flow has a kernel outcome,
every scenario variant has a fixture, and none of them depends on a flaky probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nflens.lab.scenarios import all_scenarios

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lab"
DIRS = sorted(p for p in FIXTURES.glob("*") if (p / "expected.json").exists()) \
    if FIXTURES.is_dir() else []


def test_every_scenario_variant_has_a_fixture():
    names = {p.name for p in DIRS}
    missing = [f"{s.name}-{v.name}" for s in all_scenarios() for v in s.variants
               if f"{s.name}-{v.name}" not in names]
    assert missing == []


@pytest.mark.parametrize("fixture", DIRS, ids=[p.name for p in DIRS])
def test_expected_covers_exactly_the_flows(fixture):
    flows = json.loads((fixture / "flows.json").read_text())["flows"]
    expected = json.loads((fixture / "expected.json").read_text())
    assert set(expected["expected"]) == {f["name"] for f in flows}
    assert set(expected["expected"].values()) <= {"allow", "deny"}
    assert expected["flaky"] == []


@pytest.mark.parametrize("fixture", DIRS, ids=[p.name for p in DIRS])
def test_snapshot_files_are_present(fixture):
    for name in ("iptables-save.txt", "nft.json", "ebtables-save.txt", "ip-addr.json",
                 "ip-link.json", "ip-route.json", "ss.txt", "sysctl.txt",
                 "docker-containers.json", "docker-networks.json", "daemon.json"):
        assert (fixture / name).exists(), name
