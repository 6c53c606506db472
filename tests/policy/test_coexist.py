"""policy apply names the host's firewall manager and what its reload does to nflens' chains
(issue 13.5), from the manager's own configuration in the snapshot's persist/."""

from __future__ import annotations

from nflens.policy.coexist import manager_notes
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"


def test_ufw_without_a_docker_user_block_keeps_the_chains():
    (note,) = manager_notes(read_snapshot(LAB / "ufw_docker-broken"))
    assert note.startswith("ufw manages") and "keeps nflens' chains" in note


def test_ufw_with_a_docker_user_block_in_after_rules_loses_the_jump_at_reload():
    (note,) = manager_notes(read_snapshot(LAB / "ufw_docker-ufw-docker"))
    assert "/etc/ufw/after.rules declares DOCKER-USER" in note and "apply` again" in note


def test_firewalld_and_no_manager():
    (note,) = manager_notes(read_snapshot(LAB / "firewalld_zones-zones"))
    assert note.startswith("firewalld manages") and "firewall-cmd --reload" in note
    assert manager_notes(read_snapshot(LAB / "seed001_input_bypass-broken")) == []
