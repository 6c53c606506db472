"""The live host a policy is resolved against: a Docker daemon that does not answer is refused
(its containers would all look stopped and the policy's rules would be dropped)."""

from __future__ import annotations

import importlib
import shutil

import pytest

from nflens.errors import PolicyError
from nflens.policy import live
from tests.conftest import REPO

# the module (nflens.snapshot re-exports its function under the same name)
collect_mod = importlib.import_module("nflens.snapshot.collect")
SEED001 = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"


def _fake_collect(docker_answers: bool):
    def collect(out, netns=None, docker_host=None, **_):
        report = collect_mod.CollectReport(out)
        for name in ("iptables-save.txt", "ip-addr.json", "ip-route.json"):
            if (SEED001 / name).exists():
                shutil.copy(SEED001 / name, out / name)
        if docker_answers:
            for name in ("docker-info.json", "docker-containers.json", "docker-networks.json"):
                shutil.copy(SEED001 / name, out / name)
        else:
            report.missing.append(("docker-info.json", "`docker info` failed: exit 1: Cannot "
                                   "connect to the Docker daemon"))
        return report
    return collect


def test_host_whose_docker_does_not_answer_is_refused(monkeypatch):
    monkeypatch.setattr(collect_mod, "collect", _fake_collect(docker_answers=False))
    with pytest.raises(PolicyError, match="Docker did not answer.*Cannot connect.*nothing was "
                                          "changed"):
        live.host_for(None, None, "unix:///nonexistent.sock", rules_live=True)


def test_host_whose_docker_answers_is_read(monkeypatch):
    monkeypatch.setattr(collect_mod, "collect", _fake_collect(docker_answers=True))
    host = live.host_for(None, None, "unix:///lab.sock", rules_live=False)
    assert any(c.name.lstrip("/") == "web" for c in host.docker.containers)


def test_a_given_snapshot_needs_no_daemon():
    host = live.host_for(SEED001, None, None, rules_live=False)
    assert host.docker.containers
