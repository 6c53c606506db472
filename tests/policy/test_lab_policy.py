"""Real kernel, real dockerd (src/nflens/lab): each seed story's policy, applied with the CLI to
the broken story, gives the probes the verdicts the real kernel gave for the story's hand-fixed
variant -- and keeps them:
- across a dockerd restart (killed with SIGTERM, started again in the namespace; while it is
  down the unit's command refuses and changes nothing; once it is up the command is re-run, as
  PartOf=docker.service does);
- across a host "reboot" (everything torn down and built again from scratch, the story's boot
  script included; then only the ExecStart of the unit `nflens policy persist` wrote is run);
- under `nflens policy watch`, for a container started later, and after a dockerd restart
  (watch reconnects and re-applies by itself).
Every test runs on each Docker version the lab has (20.10, 26, 28: nflens.lab.versions), with
the kernel's verdicts of that version's fixed story; the combinations marked `matrix` run in
`make lab-matrix` only (the budget of `make test`). A version that is not available here is a
skip naming it. Every test leaves nothing of the lab behind (namespaces, processes, mounts,
cgroups)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nflens.lab import scenarios, versions
from nflens.lab.matrix import fixture_dir
from nflens.lab.netns import Lab, leftovers, run_in
from nflens.lab.run import build, probe_all
from nflens.lab.scenarios import FlowSpec
from nflens.policy.persist import UNIT_NAME, apply_argv, exec_start
from tests.conftest import EXAMPLES, REPO, docker_or_skip

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300),
              pytest.mark.skipif(not all(shutil.which(t) for t in ("dockerd", "busybox",
                                                                   "nsenter", "iptables")),
                                 reason="needs dockerd, busybox-static, nsenter and iptables")]
LAB = REPO / "tests" / "fixtures" / "lab"
POLICIES = {"seed000_web2": "seed000-web2.yaml",
            "seed001_input_bypass": "seed001-input-bypass.yaml",
            "seed003_egress": "seed003-egress.yaml",
            "seed004_dnat_port": "seed004-dnat-port.yaml",
            "seed002_radius": "seed002-radius.yaml"}
NFLENS = [sys.executable, "-m", "nflens"]


def on(*in_make_test: str, scenarios_: list[str] | None = None) -> list:
    """Every Docker version (times every scenario) as parameters; only the versions named run
    in `make test`, the others in `make lab-matrix` (the budget of `make test`: each kind of
    lab proof runs there once, and the three versions share the kinds between them)."""
    keep = set(in_make_test)
    out = []
    for sc in scenarios_ or [None]:
        for k in versions.KEYS:
            marks = () if k in keep else (pytest.mark.matrix,)
            values = (sc, k) if sc else (k,)
            out.append(pytest.param(*values, id=f"{sc}-docker{k}" if sc else f"docker{k}",
                                    marks=marks))
    return out


@contextlib.contextmanager
def _host(sc, docker: str, run_id: str | None = None):
    """The story's broken host on a real dockerd of version `docker` (the lab's host
    namespace); afterwards nothing of it is left (namespaces, processes, mounts, cgroups)."""
    docker_or_skip(docker)
    with Lab(run_id) as lab:
        ctx = build(lab, sc, sc.variant("broken"), docker)
        try:
            yield ctx
        finally:
            ctx.docker.stop()
    assert leftovers(lab.id) == []


def _story(name: str, docker: str):
    """The scenario, the kernel's verdicts of its fixed variant on that Docker version, and
    its policy file."""
    fixed = fixture_dir(LAB, docker, f"{name}-fixed")
    want = json.loads((fixed / "expected.json").read_text())["expected"]
    return scenarios.load(name), want, EXAMPLES / "policies" / POLICIES[name]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **extra}
    env.pop("SSH_CONNECTION", None)  # the guard would protect the session running the tests
    return env


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=env or _env(), timeout=120)


def _apply(ctx, policy, state_dir) -> None:
    """What the unit runs (non-interactive apply), in the lab's host namespace."""
    proc = _run(apply_argv(policy, docker_host=ctx.docker.url) + [
        "--netns", ctx.host, "--state-dir", str(state_dir)])
    assert proc.returncode == 0, proc.stderr


def _verdicts(ctx, flows) -> dict[str, str]:
    return {o.name: o.outcome for o in probe_all(ctx, flows, rounds=1)}


def _own_rules(ctx) -> list[str]:
    """DOCKER-USER and nflens's chains as iptables-save prints them (no counters)."""
    save = run_in(ctx.host, ["iptables-save", "-t", "filter"]).stdout
    return [line for line in save.splitlines()
            if line.startswith(("-A DOCKER-USER", "-A NFLENS", "-A INPUT -j NFLENS"))]


def _ebtables_rules(ctx) -> list[str]:
    return [line for line in run_in(ctx.host, ["ebtables-save"]).stdout.splitlines()
            if line.startswith("-A ")]


def _stop_dockerd(ctx) -> None:
    """SIGTERM (with SIGKILL its managed containerd lives on and blocks the next start): dockerd
    stops its containers and leaves its iptables rules in place."""
    ctx.docker._proc.terminate()
    ctx.docker._proc.wait(30)


def _start_dockerd(ctx) -> None:
    """Start dockerd again in the namespace (Docker rewrites its chains). The containers come
    back by hand (no restart policy), as an administrator would `docker start` them."""
    ctx.docker.start()
    for name in list(ctx.containers):
        fresh = ctx.docker.client.containers.get(ctx.containers[name].id)
        if fresh.status != "running":
            fresh.start()
        ctx.containers[name] = fresh
        ctx.serve_udp(name)  # a UDP server lived in the container's old network namespace


def _restart_dockerd(ctx) -> None:
    _stop_dockerd(ctx)
    _start_dockerd(ctx)


@pytest.mark.parametrize("scenario,docker",
                         on("28", scenarios_=["seed000_web2"])
                         + on("26", scenarios_=["seed001_input_bypass"])
                         + on("20", scenarios_=["seed002_radius"])
                         + on(scenarios_=["seed003_egress", "seed004_dnat_port"]))
def test_seed_policy_holds_across_a_dockerd_restart(tmp_path, scenario, docker):
    """apply -> the fixed story's verdicts; dockerd stopped -> the unit's command refuses (exit 2,
    "Docker did not answer") and the rules stay as they were; dockerd started again and the
    command re-run -> the fixed story's verdicts again."""
    sc, want, policy = _story(scenario, docker)
    with _host(sc, docker) as ctx:
        before = _verdicts(ctx, sc.flows)
        assert before != want  # the story's problem is there for real
        if scenario == "seed000_web2":  # the boot script's ARP drops, on the real bridge
            assert "-A OUTPUT -p ARP -j DROP" in _ebtables_rules(ctx)
            assert before["lan-web2"] == before["local-web2"] == "deny"
        _apply(ctx, policy, tmp_path)
        assert _verdicts(ctx, sc.flows) == want
        if scenario == "seed000_web2":  # take_over: [ebtables] emptied the bridge filter
            assert _ebtables_rules(ctx) == []
        ours = _own_rules(ctx)
        _stop_dockerd(ctx)
        down = _run(apply_argv(policy, docker_host=ctx.docker.url) + [
            "--netns", ctx.host, "--state-dir", str(tmp_path)])
        assert down.returncode == 2 and "Docker did not answer" in down.stderr, down.stderr
        assert _own_rules(ctx) == ours
        _start_dockerd(ctx)
        _apply(ctx, policy, tmp_path)  # what nflens-policy.service runs after docker
        assert _verdicts(ctx, sc.flows) == want


@pytest.mark.parametrize("scenario,docker", on("28", scenarios_=["seed001_input_bypass"])
                         + on(scenarios_=["seed000_web2"])
                         + on(scenarios_=["seed002_radius"]))
def test_seed_policy_comes_back_after_a_reboot(tmp_path, scenario, docker):
    """The host is torn down completely (namespaces, dockerd, every rule) and booted again
    from scratch with the same identity (same run id: same paths and docker socket, like the
    same machine); the story's boot state comes back with it (seed 000: secure_firewall.sh's
    DOCKER-USER allow-list and ARP drops again). Then systemd would run the unit `nflens policy
    persist` wrote: its ExecStart, with its Environment, is run in the host namespace and the
    story's fixed verdicts are back."""
    sc, want, policy = _story(scenario, docker)
    state = tmp_path / "state"
    with _host(sc, docker) as ctx:  # leaves nothing: powered off, nothing of the host is left
        run_id = ctx.lab.id
        _apply(ctx, policy, state)
        assert _verdicts(ctx, sc.flows) == want
        proc = _run(NFLENS + ["policy", "persist", str(policy), "--unit-dir",
                              str(tmp_path / "units"), "--state-dir", str(state),
                              "--docker-host", ctx.docker.url])
        assert proc.returncode == 0, proc.stderr
        unit = (tmp_path / "units" / UNIT_NAME).read_text()
    with _host(sc, docker, run_id) as ctx:
        booted = _verdicts(ctx, sc.flows)
        assert booted != want  # booted: Docker's rules and the story's boot state only
        env = _env()
        for line in unit.splitlines():
            if line.startswith("Environment="):
                key, _, value = line.removeprefix("Environment=").partition("=")
                env[key] = value
        proc = _run(exec_start(unit) + ["--netns", ctx.host], env)
        assert proc.returncode == 0, proc.stderr
        assert _verdicts(ctx, sc.flows) == want


# A policy naming a container that does not exist yet ("late", port 8081, office only; inbound
# default closed): at an apply before it starts it is skipped, so once it starts Docker's rules
# and the closed default leave the LAN out. Only a re-apply after its start event lets the
# office in while the WAN stays out.
WATCHED = ("version: 1\ngroups:\n  office: [10.99.0.0/24]\ninbound:\n  default: closed\n"
           "  ports:\n    - {container: web, port: 8080, from: [office]}\n"
           "    - {container: late, port: 8081, from: [office]}\n")
LATE = (FlowSpec("lan-late", "eth0", "10.99.0.1", 8081),
        FlowSpec("wan-late", "eth1", "198.51.100.1", 8081))
KEPT = {"lan-web": "allow", "wan-web": "deny"}


class _Watch:
    """`nflens policy watch` in the lab's host namespace, registered with the Lab (teardown
    kills it whatever happens); its output goes to a log file."""

    def __init__(self, ctx, policy: Path, state: Path):
        self.log = state.parent / "watch.log"
        argv = ["env", "-u", "SSH_CONNECTION", f"PYTHONPATH={REPO / 'src'}"] + NFLENS + [
            "policy", "watch", str(policy), "--docker-host", ctx.docker.url, "--netns", ctx.host,
            "--state-dir", str(state), "--debounce", "1"]
        self.proc = ctx.lab.spawn(ctx.host, argv, log=self.log)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return self.text()
            assert self.proc.poll() is None, f"watch exited {self.proc.returncode}: {self.text()}"
            time.sleep(0.2)
        raise AssertionError(f"no {needle!r} from watch within {timeout} s: {self.text()}")

    def stop(self) -> int:
        """SIGTERM: watch finishes the apply under way and exits 0."""
        self.proc.terminate()
        return self.proc.wait(30)


def _until(ctx, flows, want: dict[str, str], timeout: float = 60) -> dict[str, str]:
    deadline, outcome = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        outcome = _verdicts(ctx, flows)
        if outcome == want:
            break
        time.sleep(0.5)
    return outcome


@pytest.mark.parametrize("docker", on("20"))
def test_watch_applies_the_policy_to_a_container_started_later(tmp_path, docker):
    sc = scenarios.load("seed001_input_bypass")
    policy = tmp_path / "policy.yaml"
    policy.write_text(WATCHED)
    with _host(sc, docker) as ctx:
        watch = _Watch(ctx, policy, tmp_path / "state")
        first = watch.wait_for("applied")  # the initial apply, before "late" exists
        assert "failed" not in first, first
        assert _verdicts(ctx, sc.flows[:2]) == KEPT
        ctx.server("late", ports={"80/tcp": 8081})
        assert _until(ctx, LATE, {"lan-late": "allow", "wan-late": "deny"}) == \
            {"lan-late": "allow", "wan-late": "deny"}
        assert "container start" in watch.text()
        assert _verdicts(ctx, sc.flows[:2]) == KEPT
        assert watch.stop() == 0
        assert "watch stopped" in watch.text()


@pytest.mark.parametrize("docker", on("28"))
def test_watch_follows_docker_across_a_restart(tmp_path, docker):
    """dockerd is stopped and started again while watch runs (no unit command is run): watch
    waits for the daemon, reconnects and re-applies by itself, and a container started after
    the restart is covered too. Before, watch exited (status 0) when dockerd stopped."""
    sc = scenarios.load("seed001_input_bypass")
    policy = tmp_path / "policy.yaml"
    policy.write_text(WATCHED)
    with _host(sc, docker) as ctx:
        watch = _Watch(ctx, policy, tmp_path / "state")
        watch.wait_for("applied")
        assert _verdicts(ctx, sc.flows[:2]) == KEPT
        _restart_dockerd(ctx)
        watch.wait_for("daemon reconnect")  # the burst that re-applied after the restart
        assert watch.proc.poll() is None
        assert _verdicts(ctx, sc.flows[:2]) == KEPT
        ctx.server("late", ports={"80/tcp": 8081})
        assert _until(ctx, LATE, {"lan-late": "allow", "wan-late": "deny"}) == \
            {"lan-late": "allow", "wan-late": "deny"}
        assert _verdicts(ctx, sc.flows[:2]) == KEPT
        assert watch.stop() == 0


@pytest.mark.parametrize("docker", on("26"))
def test_policy_applied_while_a_container_is_stopped_holds_when_it_starts(tmp_path, docker):
    """Seed 004's policy (no inbound default) applied while tomcat is stopped -- what `watch`
    does after the stop event, or the unit at boot before a container is started by hand. Another
    container takes the address tomcat had; tomcat starts again: the WAN is still out and the
    office still in, before any re-apply. (Before, the stopped container was skipped and its
    port was open to everyone from its start until the next apply.)"""
    sc, want, policy = _story("seed004_dnat_port", docker)
    with _host(sc, docker) as ctx:
        _apply(ctx, policy, tmp_path)
        assert _verdicts(ctx, sc.flows) == want
        tomcat = ctx.containers["tomcat"]
        old_ip = tomcat.attrs["NetworkSettings"]["IPAddress"]
        tomcat.kill()
        tomcat.wait()
        _apply(ctx, policy, tmp_path)
        assert " -d " not in "\n".join(_own_rules(ctx))  # tomcat has no address now
        ctx.server("filler")  # takes the first free address on docker0
        tomcat.start()
        tomcat.reload()
        new_ip = tomcat.attrs["NetworkSettings"]["IPAddress"]
        _until(ctx, sc.flows[:1], {"lan-tomcat": "allow"}, timeout=10)  # httpd is up
        assert _verdicts(ctx, sc.flows[:2]) == {"lan-tomcat": "allow",
                                                "wan-tomcat": "deny"}, (old_ip, new_ip)
