"""Real kernel, real dockerd (src/nflens/lab): a seed story's policy applied with the CLI gives
the probes the fixed story's verdicts; still after dockerd is killed and started again (the
unit's command re-run, as PartOf=docker.service does), and the lab leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from nflens.lab import scenarios
from nflens.lab.netns import Lab, leftovers
from nflens.lab.run import build, probe_all
from nflens.policy.persist import apply_argv
from tests.conftest import EXAMPLES, REPO

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300),
              pytest.mark.skipif(not all(shutil.which(t) for t in ("dockerd", "busybox",
                                                                   "nsenter", "iptables")),
                                 reason="needs dockerd, busybox-static, nsenter and iptables")]
LAB = REPO / "tests" / "fixtures" / "lab"


def _apply(ctx, policy, state_dir) -> None:
    argv = apply_argv(policy, docker_host=ctx.docker.url) + [
        "--netns", ctx.host, "--state-dir", str(state_dir)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("SSH_CONNECTION", None)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _verdicts(ctx, sc) -> dict[str, str]:
    return {o.name: o.outcome for o in probe_all(ctx, sc.flows, rounds=1)}


def _restart_dockerd(ctx) -> None:
    """Kill dockerd (SIGTERM: with SIGKILL its managed containerd lives on and blocks the next
    start) and start it again in the namespace; Docker rewrites its chains. The containers come
    back by hand (no restart policy), as an administrator would `docker start` them."""
    ctx.docker._proc.terminate()
    ctx.docker._proc.wait(30)
    ctx.docker.start()
    for c in ctx.containers.values():
        fresh = ctx.docker.client.containers.get(c.id)
        if fresh.status != "running":
            fresh.start()
        ctx.containers[c.name] = fresh


def test_seed001_policy_on_a_real_docker_host(tmp_path):
    sc = scenarios.load("seed001_input_bypass")
    want = json.loads((LAB / "seed001_input_bypass-fixed" / "expected.json").read_text())
    policy = EXAMPLES / "policies" / "seed001-input-bypass.yaml"
    with Lab() as lab:
        run_id = lab.id
        ctx = build(lab, sc, sc.variant("broken"))
        try:
            assert _verdicts(ctx, sc)["wan-web"] == "allow"  # the story's problem, for real
            _apply(ctx, policy, tmp_path)
            assert _verdicts(ctx, sc) == want["expected"]
            _restart_dockerd(ctx)
            _apply(ctx, policy, tmp_path)  # what nflens-policy.service runs after docker
            assert _verdicts(ctx, sc) == want["expected"]
        finally:
            ctx.docker.stop()
    assert leftovers(run_id) == []
