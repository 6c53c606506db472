"""Shared fixtures of the HTML report tests: real snapshots, one denied and one allowed flow."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "snapshot-example"
SEED004 = ROOT / "tests" / "fixtures" / "lab" / "seed004_dnat_port-broken"


def _trace(snapshot: Path, src: str, dst: str):
    from nflens.flows import parse_from, parse_to
    from nflens.ir.packet import Flow
    from nflens.kernel.simulate import Simulator
    from nflens.kernel.whatif import what_would_change
    from nflens.snapshot.read import read_snapshot

    sim = Simulator(read_snapshot(snapshot))
    addr, port, proto = parse_to(dst)
    flow = Flow(f"{src} -> {dst}", parse_from(src), addr, port, proto)
    result = sim.run(flow)
    return sim.host, result, what_would_change(sim.host, flow, result)


@pytest.fixture(scope="session")
def denied():
    """snapshot-example: WAN -> shop, dropped by DOCKER-USER (iptables-save.txt:24)."""
    return _trace(EXAMPLE, "eth1:198.51.100.2", "198.51.100.1:8080/tcp")


@pytest.fixture(scope="session")
def allowed():
    """seed004 broken: WAN -> tomcat, allowed; DNAT on the way in, un-DNAT on the reply."""
    return _trace(SEED004, "eth1:198.51.100.2", "10.99.0.1:80/tcp")


@pytest.fixture(scope="session")
def audited():
    from nflens.analysis.audit import audit
    from nflens.snapshot.read import read_snapshot

    host = read_snapshot(SEED004)
    return host, audit(host, verify=True)
