"""The simulator against the kernel on native-nftables hosts (issue 28's Must show).

`tests/fixtures/docker29_nft/*` are Docker 29 `firewall-backend: nftables` hosts whose Docker
side is synthetic (lab/docker29.py, from moby's nftabler code) and whose kernel side is real
(lab/nfthost.py built each one in network namespaces, loaded its ruleset with `nft -f` and
probed every flow); `tests/fixtures/nft_native/*` are hand-written nftables.conf hosts without
Docker. Every flow not listed as flaky must get the kernel's verdict from `check`.
"""

from __future__ import annotations

import json

import pytest

from nflens.flows import load_flows
from nflens.lab import nftgoldens
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO
from tests.kernel.test_real_snapshots import simulators  # noqa: F401, F811 (the fixture)

FIXTURES = REPO / "tests" / "fixtures"
GOLDENS = sorted(p.parent for d in ("docker29_nft", "nft_native")
                 for p in (FIXTURES / d).glob("*/expected.json"))


def _cases():
    for snap in GOLDENS:
        expected = json.loads((snap / "expected.json").read_text())
        flaky = set(expected["flaky"])
        for flow in load_flows(snap / "flows.json"):
            if flow.name not in flaky:
                yield pytest.param(snap, flow, expected["expected"][flow.name],
                                   id=f"{snap.name}:{flow.name}")


def test_every_golden_host_is_there_with_its_flows():
    assert {p.name for p in GOLDENS} == set(nftgoldens.HOSTS)
    for snap in GOLDENS:
        spec = nftgoldens.HOSTS[snap.name]
        assert [f.name for f in load_flows(snap / "flows.json")] == [f.name for f in spec.flows]


@pytest.mark.parametrize("snap,flow,kernel", list(_cases()))
def test_check_agrees_with_the_kernel_on_nft_hosts(simulators, snap, flow, kernel):  # noqa: F811
    result = simulators(snap).run(flow)
    assert result.verdict == kernel, result.reason


@pytest.mark.parametrize("name", nftgoldens.DOCKER29)
def test_docker29_golden_is_what_the_generator_writes(name):
    """The recorded ruleset and Docker files are today's docker29.py output (regenerate the
    golden in the lab when the generator changes), and nft.json holds Docker's two tables
    with no iptables rule beside them."""
    snap, spec = FIXTURES / "docker29_nft" / name, nftgoldens.HOSTS[name]
    assert json.loads((snap / "expected.json").read_text())["setup"] == spec.ruleset
    for file, value in spec.files.items():
        assert json.loads((snap / file).read_text()) == value, file
    tables = {(o["table"]["family"], o["table"]["name"])
              for o in json.loads((snap / "nft.json").read_text())["nftables"] if "table" in o}
    assert {("ip", "docker-bridges"), ("ip6", "docker-bridges")} <= tables
    assert (snap / "iptables-save.txt").read_text().strip() == ""
    assert read_snapshot(snap).docker.daemon.firewall_backend == "nftables"
