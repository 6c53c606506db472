"""The synthetic benchmark hosts look like the lab-built one of the same size (ARCHITECTURE:
"a synthetic host whose cost differs from the real one of the same size is a bug in the
benchmark"): the same chains with the same rule shapes, the same link layer (interfaces,
routes, sysctls, sockets), and the same work per flow — the same number of rules evaluated
and trace steps for the same flows (the deterministic part of the per-flow cost; `make bench`
times both, bench/realmeasures.py:synthetic_vs_lab)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import realhosts  # noqa: E402
import realmeasures  # noqa: E402
import synth_real  # noqa: E402

from nflens.kernel.simulate import Simulator  # noqa: E402
from nflens.kernel.trace import RuleStep  # noqa: E402
from nflens.snapshot.read import read_snapshot  # noqa: E402

ARCHIVE = BENCH / "hosts" / "docker20.10.24-400c-10n-200p.tar.xz"
pytestmark = pytest.mark.skipif(not ARCHIVE.exists(), reason="no lab-built bench host")


@pytest.fixture(scope="module")
def pair():
    lab = read_snapshot(realhosts.unpacked(ARCHIVE))
    return lab, synth_real.host(400, 10, 200, 115)


def test_same_chains_and_rule_shapes(pair):
    lab, syn = pair
    assert synth_real.shape(syn.ruleset) == synth_real.shape(lab.ruleset)


def test_same_link_layer(pair):
    lab, syn = pair
    assert len(syn.interfaces) == len(lab.interfaces)
    assert len(syn.routes) == len(lab.routes)
    assert len(syn.sockets) == len(lab.sockets)
    assert abs(len(syn.sysctls) - len(lab.sysctls)) < 0.02 * len(lab.sysctls)
    assert {n.name for n in syn.docker.networks} == {n.name for n in lab.docker.networks}


def _work(host, flows):
    sim = Simulator(host)
    results = [sim.run(f) for f in flows]
    rules = sum(1 for r in results for s in r.steps if isinstance(s, RuleStep) and not s.skipped)
    return [r.verdict for r in results], rules, sum(len(r.steps) for r in results)


def test_same_work_and_verdicts_per_flow(pair):
    lab, syn = pair
    ports = sorted({b.host_port for c in lab.docker.containers for b in c.ports})
    flows = realmeasures._inbound(200, ports)
    assert _work(syn, flows) == _work(lab, flows)


def test_the_simulator_agrees_with_the_kernel_on_the_lab_built_host():
    """The probes the lab made on the bench host (expected.json) — the real kernel's answers."""
    import json

    from nflens.flows import load_flows

    snap = realhosts.unpacked(ARCHIVE)
    expected = json.loads((snap / "expected.json").read_text())["expected"]
    sim = Simulator(read_snapshot(snap))
    got = {f.name: sim.run(f).verdict for f in load_flows(snap / "flows.json")}
    assert got == expected and len(got) == 8
