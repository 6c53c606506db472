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


def test_seed001_policy_comes_back_after_a_reboot(tmp_path):
    """The host is torn down completely (namespaces, dockerd, every rule) and booted again
    from scratch with the same identity (same run id: same paths and docker socket, like the
    same machine); then systemd would run the unit `policy persist` wrote: its ExecStart, with
    its Environment, is run in the host namespace and the story's fixed verdicts are back."""
    from nflens.policy.persist import exec_start, write_unit

    sc = scenarios.load("seed001_input_bypass")
    want = json.loads((LAB / "seed001_input_bypass-fixed" / "expected.json").read_text())
    policy = EXAMPLES / "policies" / "seed001-input-bypass.yaml"
    state = tmp_path / "state"
    with Lab() as lab:
        run_id = lab.id
        ctx = build(lab, sc, sc.variant("broken"))
        try:
            _apply(ctx, policy, state)
            assert _verdicts(ctx, sc) == want["expected"]
            unit = write_unit(policy, tmp_path / "units", state,
                              nflens=[sys.executable, "-m", "nflens"],
                              docker_host=ctx.docker.url).read_text()
        finally:
            ctx.docker.stop()
    assert leftovers(run_id) == []  # powered off: nothing of the host is left
    with Lab(run_id) as lab:
        ctx = build(lab, sc, sc.variant("broken"))
        try:
            assert _verdicts(ctx, sc)["wan-web"] == "allow"  # booted: Docker's rules only
            env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
            env.pop("SSH_CONNECTION", None)
            for line in unit.splitlines():
                if line.startswith("Environment="):
                    key, _, value = line.removeprefix("Environment=").partition("=")
                    env[key] = value
            proc = subprocess.run(exec_start(unit) + ["--netns", ctx.host], capture_output=True,
                                  text=True, env=env, timeout=120)
            assert proc.returncode == 0, proc.stderr
            assert _verdicts(ctx, sc) == want["expected"]
        finally:
            ctx.docker.stop()
    assert leftovers(run_id) == []


def test_watch_applies_the_policy_to_a_container_started_later(tmp_path):
    """`policy watch` follows the lab daemon's events. The policy names a container that does
    not exist yet ("late", port 8081, office only; inbound default closed): at the first apply
    it is skipped, so once it starts Docker's rules and the closed default leave the LAN out.
    Only a re-apply after the start event can let the office in while the WAN stays out."""
    import time

    from nflens.lab.scenarios import FlowSpec

    sc = scenarios.load("seed001_input_bypass")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ngroups:\n  office: [10.99.0.0/24]\ninbound:\n"
                      "  default: closed\n  ports:\n"
                      "    - {container: web, port: 8080, from: [office]}\n"
                      "    - {container: late, port: 8081, from: [office]}\n")
    late = (FlowSpec("lan-late", "eth0", "10.99.0.1", 8081),
            FlowSpec("wan-late", "eth1", "198.51.100.1", 8081))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("SSH_CONNECTION", None)
    with Lab() as lab:
        run_id = lab.id
        ctx = build(lab, sc, sc.variant("broken"))
        watcher = None
        try:
            watcher = subprocess.Popen(
                [sys.executable, "-m", "nflens", "policy", "watch", str(policy),
                 "--docker-host", ctx.docker.url, "--netns", ctx.host, "--state-dir",
                 str(tmp_path / "state"), "--debounce", "1"], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            first = watcher.stdout.readline()  # the initial apply, before "late" exists
            assert "failed" not in first, first
            ctx.server("late", ports={"80/tcp": 8081})
            want = {"lan-late": "allow", "wan-late": "deny"}
            deadline, outcome = time.monotonic() + 60, {}
            while time.monotonic() < deadline:
                outcome = {o.name: o.outcome for o in probe_all(ctx, late, rounds=1)}
                if outcome == want:
                    break
                time.sleep(1)
            assert outcome == want
            kept = {o.name: o.outcome for o in probe_all(ctx, sc.flows[:2], rounds=1)}
            assert kept == {"lan-web": "allow", "wan-web": "deny"}
        finally:
            if watcher is not None:
                watcher.terminate()
                watcher.wait(10)
            ctx.docker.stop()
    assert leftovers(run_id) == []


@pytest.mark.parametrize("scenario,policy", [
    ("seed000_web2", "seed000-web2.yaml"),
    ("seed003_egress", "seed003-egress.yaml"),
    ("seed004_dnat_port", "seed004-dnat-port.yaml"),
])
def test_seed_policy_gives_the_fixed_story_on_a_real_docker_host(tmp_path, scenario, policy):
    """Each story's policy file, applied with the CLI to the broken story on a real dockerd:
    every probe gives what the real kernel gave for the story's hand-fixed variant."""
    sc = scenarios.load(scenario)
    want = json.loads((LAB / f"{scenario}-fixed" / "expected.json").read_text())["expected"]
    with Lab() as lab:
        run_id = lab.id
        ctx = build(lab, sc, sc.variant("broken"))
        try:
            before = _verdicts(ctx, sc)
            assert before != want  # the story's problem is there for real
            _apply(ctx, EXAMPLES / "policies" / policy, tmp_path)
            assert _verdicts(ctx, sc) == want
        finally:
            ctx.docker.stop()
    assert leftovers(run_id) == []
