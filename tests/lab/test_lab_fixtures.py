"""The committed lab fixtures are consistent (no root needed): every flow has a kernel outcome,
every scenario variant has a fixture on every Docker version it runs on (20.10's at
tests/fixtures/lab/<scenario-variant>/, the others' under docker<key>/), each was made by that
version, and none of them depends on a flaky probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nflens.lab import versions
from nflens.lab.matrix import fixture_dir, version_dirs
from nflens.lab.scenarios import all_scenarios

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lab"
BY_VERSION = version_dirs(FIXTURES)
DIRS = [d for key in versions.KEYS for d in BY_VERSION[key]]
IDS = [str(d.relative_to(FIXTURES)) for d in DIRS]


@pytest.mark.parametrize("key", versions.KEYS)
def test_every_scenario_variant_has_a_fixture_on_every_version(key):
    missing = [f"{s.name}-{v.name}" for s in all_scenarios() if key in s.dockers
               for v in s.variants
               if not (fixture_dir(FIXTURES, key, f"{s.name}-{v.name}") / "expected.json").exists()]
    assert missing == []


@pytest.mark.parametrize("fixture", DIRS, ids=IDS)
def test_fixture_was_made_by_its_docker_version(fixture):
    """The daemon that answered `docker version` in the lab is the version of the folder."""
    key = next(k for k in versions.KEYS if fixture in BY_VERSION[k])
    server = json.loads((fixture / "docker-version.json").read_text())["Server"]
    assert server["Version"].split("+")[0] == versions.get(key).version


@pytest.mark.parametrize("fixture", DIRS, ids=IDS)
def test_expected_covers_exactly_the_flows(fixture):
    flows = json.loads((fixture / "flows.json").read_text())["flows"]
    expected = json.loads((fixture / "expected.json").read_text())
    assert set(expected["expected"]) == {f["name"] for f in flows}
    assert set(expected["expected"].values()) <= {"allow", "deny"}
    assert expected["flaky"] == []


@pytest.mark.parametrize("fixture", DIRS, ids=IDS)
def test_snapshot_files_are_present(fixture):
    for name in ("iptables-save.txt", "nft.json", "ebtables-save.txt", "ip-addr.json",
                 "ip-link.json", "ip-route.json", "ss.txt", "sysctl.txt",
                 "docker-containers.json", "docker-networks.json", "daemon.json"):
        assert (fixture / name).exists(), name
