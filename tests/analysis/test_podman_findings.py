"""Findings on the Podman fixtures (issue 27): the INPUT bypass and direct access name the
Podman container and netavark's DNAT, and their fix is iptables at the top of FORWARD (no
DOCKER-USER on a netavark host: placement/iptables_netavark.py), verified by re-analysis.
Before the runtime seam these hosts had no containers: no finding at all (every test below
failed: no input-bypass, no direct-container-access)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.inprocess import run_main

PODMAN = Path(__file__).resolve().parents[1] / "fixtures" / "podman"
BYPASS = sorted(PODMAN.glob("input-bypass-*"))


def _findings(snapshot: Path) -> dict[tuple[str, str], dict]:
    r = run_main("audit", "--json", "--snapshot", str(snapshot))
    assert r.code in (0, 1) and r.traceback is None, r.err
    return {(f["id"], f["subject"]): f for f in json.loads(r.out)["findings"]}


@pytest.mark.parametrize("snapshot", BYPASS, ids=[p.name for p in BYPASS])
def test_input_bypass_on_podman_names_netavark_and_is_fixed_in_forward(snapshot):
    found = _findings(snapshot)
    for port, name in ((8080, "web2"), (8081, "web3")):
        f = found[("input-bypass", f"tcp/0.0.0.0:{port}->{name}:80")]
        assert "Podman's DNAT (netavark's rules)" in f["explanation"]
        assert "Docker" not in f["explanation"]
        assert f["fix"].startswith(f"iptables -I FORWARD 1 -i eth0 -p tcp -m conntrack "
                                   f"--ctorigdstport {port}")
        if snapshot.name.endswith("-nftables"):  # netavark re-creates its own table only
            assert "re-creates only its `inet netavark` table" in f["fix"]
        else:  # netavark re-inserts its jump at the top when it is missing
            assert "at the top of FORWARD when the jump is missing" in f["fix"]
        assert f["fix_verified"] is True, f["verification"]


@pytest.mark.parametrize("snapshot", BYPASS, ids=[p.name for p in BYPASS])
def test_direct_access_on_podman_names_the_podman_container(snapshot):
    found = _findings(snapshot)
    for name, addr in (("web2", "10.213.213.2"), ("web3", "10.213.213.3")):
        f = found[("direct-container-access", f"podman container {name} {addr}")]
        assert f["fix"].startswith(f"iptables -I FORWARD 1 -d {addr}/32 ! -i podman1 ")
        assert "Docker 28" not in f["fix"]
        assert f["fix_verified"] is True, f["verification"]


@pytest.mark.parametrize("snapshot", BYPASS, ids=[p.name for p in BYPASS])
def test_published_podman_ports_are_the_containers_not_conmons_sockets(snapshot):
    """conmon listens on every published port only to reserve it (netavark's DNAT takes the
    connections first: the kernel answered from the container, lab.json's tokens). Before,
    the exposure table listed two 'conmon' host services reachable from eth0 and eth1 and no
    container at all."""
    r = run_main("audit", "--json", "--snapshot", str(snapshot))
    targets = [e["target"] for e in json.loads(r.out)["exposure"]]
    assert {"process": "conmon"} not in targets
    assert {"container": "web2", "addr": "10.213.213.2", "port": 80} in targets
    assert {"container": "web3", "addr": "10.213.213.3", "port": 80} in targets
