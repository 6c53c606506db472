"""address-bound-port on the lab's bound_port hosts: the kernel let the WAN client reach
`-p 10.99.0.1:8080:80` (20.10 and 28, with and without docker-proxy); the DOCKER-USER rule the
finding proposes, applied in the lab (variant `fixed`), stopped it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "lab"


def _found(name: str):
    report = audit(read_snapshot(LAB / name))
    return [f for f in report["findings"] if f["id"] == "address-bound-port"]


@pytest.mark.parametrize("name", ["bound_port-proxy", "docker28/bound_port-noproxy"])
def test_a_port_bound_to_the_lan_address_is_reported_reachable_from_the_wan(name):
    (f,) = _found(name)
    assert f["subject"] == "tcp/10.99.0.1:8080->web:80"
    assert "reachable from eth1" in f["explanation"] and "weak host" in f["explanation"]
    assert "-i eth1" in f["fix"] and f["fix_verified"] is True


def test_the_lab_proven_docker_user_fix_makes_it_go_away():
    assert _found("bound_port-fixed") == []
