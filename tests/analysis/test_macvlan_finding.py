"""The macvlan-outside-firewall finding, on the lab's macvlan hosts (the kernel let the LAN
reach the container despite DOCKER-USER and INPUT drops for it: macvlan-shim-docker-user)."""

from __future__ import annotations

from pathlib import Path

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import macvlan_outside
from nflens.snapshot.read import read_snapshot

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "lab"


def _found(name: str):
    return macvlan_outside.detect(AuditContext(read_snapshot(LAB / name)))


def test_a_macvlan_container_is_reported_outside_the_hosts_firewall_despite_docker_user():
    (f,) = _found("macvlan-shim-docker-user")
    assert f.subject == "container pihole 10.99.0.50 (macvlan on eth0)"
    assert "no rule of this host" in f.explanation
    assert "shim mvshim" in f.explanation


def test_without_a_shim_it_says_the_host_cannot_reach_it_either():
    (f,) = _found("docker28/macvlan-noshim")
    assert "cannot reach it either" in f.explanation


def test_containers_on_bridge_networks_only_get_no_such_finding():
    assert _found("internal_net-proxy") == []
