"""Each Docker version live on the real kernel, as `make test` runs it: one scenario per version
built and probed, the kernel's outcomes equal to that version's committed fixture and to the
simulator's verdicts on the snapshot just collected; each host's rule layout is the version's
(Docker 28: DOCKER-FORWARD, DOCKER-CT, DOCKER-BRIDGE, raw-table drops of direct access,
ip6tables on by default). The other scenario x version combinations run in `make lab-matrix`
(`nflens lab matrix`). A version not available here is a skip that names it."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from nflens.lab import run, versions
from nflens.lab.matrix import fixture_dir
from nflens.lab.netns import leftovers
from nflens.lab.scenarios import load
from tests.conftest import REPO, docker_or_skip

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300),
              pytest.mark.skipif(not all(shutil.which(t) for t in ("busybox", "nsenter",
                                                                   "iptables")),
                                 reason="needs busybox-static, nsenter and iptables")]
LAB = REPO / "tests" / "fixtures" / "lab"

LIVE = [("26", "seed001_input_bypass", "broken"), ("28", "seed001_input_bypass", "broken"),
        ("28", "docker_versions", "noproxy")]


@pytest.mark.parametrize("key,scenario,variant", LIVE, ids=[f"docker{k}-{s}-{v}"
                                                            for k, s, v in LIVE])
def test_live_run_matches_the_fixture_and_the_simulator(tmp_path, key, scenario, variant):
    docker_or_skip(key)
    report = run.run(load(scenario), variant, out=tmp_path / "out", docker=key)
    assert leftovers(report.run_id) == []
    kernel = {o.name: o.outcome for o in report.outcomes}
    assert not [o.name for o in report.outcomes if o.flaky]
    fixture = fixture_dir(LAB, key, f"{scenario}-{variant}")
    assert kernel == json.loads((fixture / "expected.json").read_text())["expected"]
    assert report.verdicts == kernel
    server = json.loads((tmp_path / "out" / "docker-version.json").read_text())["Server"]
    assert server["Version"].startswith(versions.get(key).version + "+")
    layout = (tmp_path / "out" / "iptables-save.txt").read_text()
    v6 = (tmp_path / "out" / "ip6tables-save.txt").read_text()
    if key == "28":
        for chain in ("DOCKER-FORWARD", "DOCKER-CT", "DOCKER-BRIDGE"):
            assert f":{chain} - " in layout
        assert re.search(r"^-A PREROUTING -d 10\.66\.0\.2/32 ! -i br-\w+ -j DROP$" if
                         scenario == "docker_versions" else
                         r"^-A PREROUTING -d 172\.17\.0\.2/32 ! -i docker0 -j DROP$", layout, re.M)
        assert ":DOCKER-FORWARD - " in v6  # ip6tables on by default
    else:
        assert "DOCKER-FORWARD" not in layout and "! -i docker0 -j DROP" not in layout
        assert ":DOCKER-ISOLATION-STAGE-1 - " in layout and "DOCKER" not in v6
