"""The simulator against what the real kernel did: every snapshot made in the lab.

`examples/snapshot-example` and each `tests/fixtures/lab/*/` (dockerd 20.10),
`tests/fixtures/lab/docker26/*/` and `docker28/*/` hold a snapshot collected from a real
dockerd in network namespaces (some with the real ufw or firewalld as the host's firewall), the
flows probed there (flows.json) and what the kernel did (expected.json).
`tests/fixtures/fuzz/*/` are the cases where the differential fuzzer (`nflens lab fuzz`) once
caught the simulator disagreeing with the kernel: the kernel's outcome is in expected.json, the
simulator's wrong answer of the time in its "simulator_said".
The simulator must agree on every flow not listed as flaky, except those in expected.json's
`"beyond"` (an outcome that hangs on the lab's network beyond the host, issue 25): there it must
at least be uncertain as nflens.lab.agreement scores it (`uncertain`, or the assumption named).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nflens.flows import load_flows
from nflens.kernel.simulate import Simulator
from nflens.lab.agreement import score
from nflens.snapshot.read import read_snapshot
from tests.conftest import EXAMPLES, REPO

SNAPSHOTS = sorted(
    [EXAMPLES / "snapshot-example"]
    + [p.parent for p in (REPO / "tests" / "fixtures" / "lab").glob("*/expected.json")]
    + [p.parent for p in (REPO / "tests" / "fixtures" / "lab").glob("docker*/*/expected.json")]
    + [p.parent for p in (REPO / "tests" / "fixtures" / "fuzz").glob("*/expected.json")]
)


def _cases():
    for snap in SNAPSHOTS:
        expected = json.loads((snap / "expected.json").read_text())
        flaky, beyond = set(expected.get("flaky", [])), set(expected.get("beyond", {}))
        for flow in load_flows(snap / "flows.json"):
            if flow.name in expected["expected"] and flow.name not in flaky:
                yield pytest.param(snap, flow, expected["expected"][flow.name],
                                   flow.name in beyond, id=f"{_label(snap)}:{flow.name}")


def _label(snap: Path) -> str:
    """docker28/firewalld_zones-zones; 20.10's and the others keep their bare name."""
    return f"{snap.parent.name}/{snap.name}" if snap.parent.name.startswith("docker") \
        else snap.name


@pytest.fixture(scope="module")
def simulators():
    cache: dict[Path, Simulator] = {}

    def get(snap: Path) -> Simulator:
        if snap not in cache:
            cache[snap] = Simulator(read_snapshot(snap))
        return cache[snap]

    return get


@pytest.mark.parametrize("snap,flow,kernel,beyond", list(_cases()))
def test_simulator_agrees_with_the_kernel(simulators, snap, flow, kernel, beyond):
    result = simulators(snap).run(flow)
    if beyond:
        assert score(kernel, result, beyond) != "disagreed", (result.reason,
                                                               result.assumptions)
    else:
        assert result.verdict == kernel, result.reason
