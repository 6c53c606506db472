"""`audit --jobs N` answers exactly what one process answers, and `audit` reports its progress
per published port to whoever asks."""

from __future__ import annotations

import ipaddress as ip
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from nflens.analysis.audit import audit
from nflens.cli.jobs import process_mapper
from nflens.ir.host import PortBinding, Socket
from nflens.snapshot.read import read_snapshot

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests" / "fixtures" / "lab"
SNAP = LAB / "seed000_web2-broken"


def _more_ports(host, extra: int = 6):
    """The lab host with a few more published ports on its containers (and their proxies)."""
    conts = list(host.docker.containers)
    sockets = list(host.sockets)
    for k in range(extra):
        c = conts[k % len(conts)]
        port = 31000 + k
        conts[k % len(conts)] = replace(c, ports=c.ports + (PortBinding(80, "tcp", "0.0.0.0",
                                                                          port),))
        sockets.append(Socket("tcp", ip.ip_address("0.0.0.0"), port, "docker-proxy"))
    return replace(host, docker=replace(host.docker, containers=tuple(conts)),
                   sockets=tuple(sockets))


def test_two_processes_give_the_same_audit_as_one():
    host = _more_ports(read_snapshot(SNAP))
    one = audit(host)
    two = audit(host, mapper=process_mapper(2, min_per_worker=1))
    assert len(one["exposure"]) >= 8
    assert json.dumps(two, sort_keys=True) == json.dumps(one, sort_keys=True)


def test_the_findings_reaches_are_answered_by_the_workers_with_the_same_findings():
    """direct-container-access asks one reach per container address, input-bypass one intent
    per port, unreachable-published-port and egress-blocks-replies what stops an example
    connection to each port, the egress report one reach per network and service: `--jobs`
    answers them in its workers, past the published ports, and the audit is that of one
    process."""
    host = _more_ports(read_snapshot(LAB / "seed001_input_bypass-broken"))
    inner = process_mapper(2, min_per_worker=1)
    calls = []

    def counting(fn, ctx, items, ports=None):
        addresses = sum(1 for c in ctx.host.docker.containers if c.running
                        for ep in c.endpoints if ep.ipv4 is not None)
        calls.append((len(items), len(ctx.published), addresses))
        return inner(fn, ctx, items) if ports is None else inner(fn, ctx, items, ports)

    one = audit(host)
    two = audit(host, mapper=counting)
    assert {"input-bypass", "direct-container-access"} <= {f["id"] for f in one["findings"]}
    assert json.dumps(two, sort_keys=True) == json.dumps(one, sort_keys=True)
    [(items, ports, addresses)] = calls
    # a reach per address, an intent, obstacles per port, three services of a network
    assert items - ports >= addresses + 1 + ports + 3


def test_jobs_use_no_more_processes_than_cpus_or_ports_justify(monkeypatch):
    """`--jobs 8` on 2 CPUs forks 2; 60 ports are not worth a second process (the fork and
    the cold caches of the worker cost more than the split saves)."""
    import nflens.cli.jobs as jobs

    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0, 1})
    assert jobs.workers(8, 400) == 2
    assert jobs.workers(2, 60) == 1
    assert jobs.workers(1, 400) == 1
    assert jobs.workers(2, 100) == 2


def test_progress_is_reported_per_published_port_then_per_finding_module():
    host = _more_ports(read_snapshot(SNAP), 2)
    heard = []
    audit(host, progress=lambda stage, done, total: heard.append((stage, done, total)))
    ports = [h for h in heard if h[0] == "exposure"]
    assert ports[0][1] == 0 and ports[-1][1] == ports[-1][2] == len(ports) - 1 >= 4
    asked = [h for h in heard if h[0] == "questions"]  # the findings' reaches, answered
    assert asked[0][1] == 0 and asked[-1][1] == asked[-1][2] == len(asked) - 1 >= 1
    assert heard[-1][0] == "findings" and heard[-1][1] == heard[-1][2]


def test_cli_jobs_output_is_the_same_and_no_progress_on_a_pipe():
    def run(*extra):
        return subprocess.run([sys.executable, "-m", "nflens", "audit", "--snapshot", str(SNAP),
                               "--json", *extra], capture_output=True, text=True, check=True)

    one, two = run(), run("--jobs", "2")
    assert one.stdout == two.stdout and json.loads(one.stdout)["exposure"]
    assert two.stderr == ""


def test_policy_plan_reports_progress_per_probe():
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy

    host = read_snapshot(LAB / "seed001_input_bypass-broken")
    policy = load_policy(str(REPO / "examples" / "policies" / "seed001-input-bypass.yaml"))
    heard = []
    plan = make_plan(policy, host, progress=lambda done, total: heard.append((done, total)))
    assert heard and heard[-1][0] == heard[-1][1] == len(plan.verification.judged)
