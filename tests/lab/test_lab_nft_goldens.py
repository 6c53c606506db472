"""A Docker 29 nftables golden rebuilt on the real kernel.

`published` (tests/fixtures/docker29_nft, the richest: 12 flows) is built again by
lab/nfthost.py (bridges, guest namespaces, the real docker-proxy, the ruleset loaded with
`nft -f`), snapshotted as `snapshot collect` does, and every flow probed once: `nflens check
--json` on the fresh snapshot must give the kernel's verdicts, and the kernel must still do
what the golden recorded. (hostaddr, forward_drop and internal are rebuilt by
test_lab_nft_fix.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from nflens.lab import nftgoldens, nfthost
from nflens.lab.netns import Lab, leftovers
from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]
needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("busybox", "nsenter", "nft", "ss"))
    or not nfthost.DOCKER_PROXY.exists(),
    reason="needs busybox-static, util-linux, nftables, iproute2 and docker-proxy (docker.io)")


def check(snapshot) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-m", "nflens", "check", "--snapshot", str(snapshot),
                           str(snapshot / "flows.json"), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return {r["name"]: r["verdict"] for r in json.loads(proc.stdout)["results"]}


def write_flows(built, out) -> None:
    flows = [f.contract(built.topo.client_addrs) for f in built.spec.flows]
    (out / "flows.json").write_text(json.dumps({"flows": flows}))


@needs_tools
@pytest.mark.parametrize("name", ["published"])
def test_check_on_a_rebuilt_docker29_nft_host_agrees_with_the_kernel(name, tmp_path):
    with Lab() as lab:
        built = nfthost.build(lab, nftgoldens.HOSTS[name])
        nfthost.snapshot(built, tmp_path)
        write_flows(built, tmp_path)
        kernel = {n: nfthost.outcome(rs) for n, rs in nfthost.probe_all(built, rounds=1).items()}
        lab_id = lab.id
    assert leftovers(lab_id) == []
    assert check(tmp_path) == kernel
    golden = REPO / "tests" / "fixtures" / "docker29_nft" / name / "expected.json"
    assert json.loads(golden.read_text())["expected"] == kernel
