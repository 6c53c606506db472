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


def _forward_jump_last(src, dest):
    """The snapshot as dockerd 20.10 leaves it after `firewall-cmd --reload` (measured in the
    lab, tests/lab/test_lab_policy_coexist.py): FORWARD's jump to DOCKER-USER is its last rule."""
    import shutil

    shutil.copytree(src, dest)
    lines = (dest / "iptables-save.txt").read_text().splitlines()
    jump = lines.index("-A FORWARD -j DOCKER-USER")
    last = max(i for i, line in enumerate(lines) if line.startswith("-A FORWARD "))
    lines.insert(last, lines.pop(jump))
    (dest / "iptables-save.txt").write_text("\n".join(lines) + "\n")
    return dest


def test_a_late_jump_to_docker_user_is_named_with_its_cure(tmp_path):
    """Before, the re-apply after a firewalld reload on Docker 20.10 was refused NOT OK with
    only "expected deny, got allow" and no word of why: the plan now says where the jump is and
    that a dockerd restart puts it first."""
    from nflens.policy.coexist import late_docker_user
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy
    from tests.policy.test_seeds import FWD_POLICY

    fixture = LAB / "firewalld_zones-zones"
    assert late_docker_user(read_snapshot(fixture)) == []
    host = read_snapshot(_forward_jump_last(fixture, tmp_path / "reloaded"))
    (note,) = late_docker_user(host)
    assert note.startswith("iptables FORWARD jumps to DOCKER-USER only at rule ")
    assert "systemctl restart docker" in note and "firewall-cmd --reload" in note
    (tmp_path / "policy.yaml").write_text(FWD_POLICY)
    plan = make_plan(load_policy(str(tmp_path / "policy.yaml")), host)
    assert not plan.ok and note in plan.resolved.warnings
