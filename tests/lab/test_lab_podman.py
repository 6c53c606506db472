"""Real rootful Podman in a lab host (issue 27): podman 4.3.1/netavark 1.4.0 and podman
5.8.6/netavark 1.17.2 (iptables and nftables drivers) run, publish a port, and a snapshot
collected inside the host holds podman's three files and containers.conf, never a container's
environment. The WAN client reaches the published port through an INPUT DROP policy (the
bypass of seed 001): the kernel's answer that tests/fixtures/podman records per version."""

from __future__ import annotations

import json
import shutil

import pytest

from nflens.lab import probes
from nflens.lab.netns import Lab, leftovers
from nflens.lab.podman_run import COMBOS, SCENARIOS, SECRET, build, snapshot
from nflens.lab.versions import VersionMissing

pytestmark = [pytest.mark.lab, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("nsenter", "iptables", "nft", "unshare")),
    reason="needs nsenter, iptables, nft and unshare")]


@pytest.mark.parametrize("config", COMBOS, ids=[c.label for c in COMBOS])
def test_podman_host_publishes_through_input_drop_and_is_collected_without_env(tmp_path,
                                                                               config):
    sc = SCENARIOS["input-bypass"]
    try:
        with Lab() as lab:
            ctx = build(lab, sc, config)
            wan = probes.from_netns(ctx.topo.client_for("eth1"), "198.51.100.1", 8080,
                                    runner=lab.runner)
            hostsvc = probes.from_netns(ctx.topo.client_for("eth1"), "198.51.100.1", 8000,
                                        runner=lab.runner)
            snapshot(ctx, tmp_path)
            ctx.podman.stop()
            run_id = lab.id
    except VersionMissing as exc:
        pytest.skip(str(exc))
    assert not leftovers(run_id)
    assert (wan.outcome, wan.token) == ("allow", "nflens:web2")  # INPUT DROP did not protect it
    assert hostsvc.outcome == "deny"  # ... the host's own service it did
    containers = json.loads((tmp_path / "podman-containers.json").read_text())
    assert sorted(c["Name"] for c in containers) == ["web2", "web3"]
    web2 = next(c for c in containers if c["Name"] == "web2")
    assert web2["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"] == "8080"
    assert web2["NetworkSettings"]["Networks"]["web"]["IPAddress"] == "10.213.213.2"
    networks = {n["name"] for n in json.loads((tmp_path / "podman-networks.json").read_text())}
    assert "web" in networks
    info = json.loads((tmp_path / "podman-info.json").read_text())
    assert info["version"]["Version"] == ctx.podman.install.version.version
    conf = (tmp_path / "persist/etc/containers/containers.conf").read_text()
    assert (f'firewall_driver = "{config.driver}"' in conf) is (config.version != "4")
    secret = SECRET.split("=", 1)[1]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    # netavark's own firewall, where its driver writes it
    if config.driver == "nftables":
        tables = [o["table"] for o in json.loads((tmp_path / "nft.json").read_text())["nftables"]
                  if "table" in o]
        assert {"family": "inet", "name": "netavark"} in [
            {"family": t["family"], "name": t["name"]} for t in tables]
    else:
        assert "NETAVARK-HOSTPORT-DNAT" in (tmp_path / "iptables-save.txt").read_text()
