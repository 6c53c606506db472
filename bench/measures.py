"""One function per figure of `make bench`. Each returns a dict row; times are the median of
several runs with the spread (min, max), so a figure can be compared across machines."""

from __future__ import annotations

import ipaddress as ip
import math
import os
import resource
import shutil
import statistics
import subprocess
import time
from multiprocessing import get_context
from pathlib import Path

import synth

from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
TUM = "configs_chair_for_Network_Architectures_and_Services__iptables-save-2015-09-03_15-56-50"
TUM6 = "configs_chair_for_Network_Architectures_and_Services__ip6tables-save-2016-03-16_13-53-28"


def can_load_nft() -> bool:
    """Docker 29-style hosts go through the real `nft` in a throwaway namespace (root)."""
    return os.geteuid() == 0 and shutil.which("nft") is not None and \
        shutil.which("unshare") is not None


def timed(fn, repeat: int = 3) -> dict:
    """Median wall time, and the median CPU time of this process beside it: the machine is
    shared, so the wall clock also measures the others."""
    samples, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"median_s": round(statistics.median(samples), 4),
            "spread_s": [round(min(samples), 4), round(max(samples), 4)], "runs": repeat,
            "cpu_s": round(statistics.median(cpus), 4)}


def flows(n: int, containers: int) -> list[Flow]:
    out = []
    for i in range(n):
        port = 10000 + (i * 7919) % max(containers, 1)
        src = ip.ip_address("198.51.100.2") if i % 2 else ip.ip_address("198.51.100.3")
        out.append(Flow(f"f{i}", Endpoint(iface="eth0", src=src), ip.ip_address("198.51.100.1"),
                        port))
    return out


def parse_corpus() -> list[dict]:
    from nflens.dialects import parse_file

    rows = []
    files = sorted((SHARED / "real-world").glob("*")) if SHARED.is_dir() else []
    for path in sorted(files, key=lambda p: p.stat().st_size)[-3:]:
        row = timed(lambda path=path: parse_file(path))
        row.update(what="parse", case=path.name.split("__")[-1][-48:],
                   rules=parse_file(path).rule_count())
        rows.append(row)
    return rows


def snapshot_load(containers: int, tmp: Path) -> dict:
    from nflens.snapshot.read import read_snapshot

    snap = tmp / f"snap-{containers}"
    snap.mkdir(parents=True, exist_ok=True)
    (snap / "iptables-save.txt").write_text(synth.iptables_save(containers, 10))
    row = timed(lambda: read_snapshot(snap))
    row.update(what="snapshot load", case=f"docker-{containers}",
               rules=read_snapshot(snap).ruleset.rule_count())
    return row


def trace(containers: int, style: str, nflows: int = 400) -> dict:
    host = synth.host(containers, style=style)
    sim = Simulator(host)
    fl = flows(nflows, containers)
    row = timed(lambda: [sim.run(f) for f in fl])
    row.update(what="trace", case=f"docker{style}-{containers}", style=style,
               containers=containers, rules=host.ruleset.rule_count(), flows=nflows,
               per_flow_ms=round(1000 * row["median_s"] / nflows, 3),
               per_flow_cpu_ms=round(1000 * row["cpu_s"] / nflows, 3))
    return row


def check_throughput(containers: int, nflows: int) -> dict:
    host = synth.host(containers)
    sim = Simulator(host)
    fl = flows(nflows, containers)
    row = timed(lambda: [sim.run(f) for f in fl], repeat=1)
    row.update(what="check", case=f"docker-{containers}", rules=host.ruleset.rule_count(),
               flows=nflows, flows_per_s=round(nflows / row["median_s"], 1),
               flows_per_cpu_s=round(nflows / row["cpu_s"], 1))
    return row


def audit(containers: int, style: str = "28", repeat: int = 1) -> dict:
    from nflens.analysis.audit import audit as run

    host = synth.host(containers, style=style)
    found = []
    row = timed(lambda: found.append(run(host)), repeat=repeat)
    row.update(what="audit", case=f"docker{style}-{containers}", style=style,
               containers=containers, rules=host.ruleset.rule_count(),
               findings=len(found[-1]["findings"]), exposures=len(found[-1]["exposure"]))
    return row


def matrix(path: Path, chain: str, dport: int) -> dict | None:
    try:
        from nflens.symbolic.matrix import service_matrix  # built by the matrix work
    except ImportError:
        return None
    from nflens.dialects import parse_file

    ruleset = parse_file(path)
    row = timed(lambda: service_matrix(ruleset, chain=chain, dport=dport), repeat=1)
    row.update(what="matrix", case=f"{path.name.split('__')[-1][-40:]} {chain} :{dport}",
               rules=ruleset.rule_count())
    return row


def policy_plan(containers: int) -> dict:
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import Policy

    host = synth.host(containers)
    policy = Policy.model_validate({
        "version": 1, "groups": {"office": ["198.51.100.0/25"]},
        "inbound": {"default": "closed", "ports": [
            {"container": f"c{i}", "port": 10000 + i, "from": ["office"]}
            for i in range(0, containers, 5)]},
        "egress": [{"network": f"net{n}", "default": "deny",
                    "allow": [{"to": ["any"], "port": 443}]} for n in range(10)]})
    plans = []
    row = timed(lambda: plans.append(make_plan(policy, host)))
    assert plans[-1].ok, "the benchmark policy must verify"
    row.update(what="policy plan", case=f"docker-{containers}", rules=host.ruleset.rule_count(),
               flows=len(plans[-1].verification.judged) * 2)
    return row


def _child(conn, name, args):
    import measures

    t0 = time.perf_counter()
    getattr(measures, name)(*args)
    conn.send((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    conn.close()


def peak_memory(name: str, *args) -> dict:
    """Run one measure in a fresh process; its peak resident set is the figure."""
    ctx = get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, name, args))
    proc.start()
    seconds, kib = parent.recv()
    proc.join()
    return {"what": "peak memory", "case": f"{name}{args}", "peak_mib": round(kib / 1024, 1),
            "median_s": round(seconds, 3)}


def kernel_load(containers: int) -> dict | None:
    """The kernel on the same rules: iptables-restore of the synthetic host into a scratch
    network namespace (root only), against nflens parsing the same text."""
    if os.geteuid() != 0 or not shutil.which("iptables-restore"):
        return None
    from nflens.dialects import iptables
    from nflens.lab.netns import Lab, nsenter

    text = synth.iptables_save(containers, 10)
    with Lab() as lab:
        ns = lab.add_netns("bench")

        def load():
            subprocess.run(nsenter(ns, ["iptables-restore"]), input=text, text=True, check=True)

        row = timed(load)
    ours = timed(lambda: iptables.parse(text, "bench"))
    row.update(what="kernel load", case=f"iptables-restore docker-{containers}",
               rules=iptables.parse(text, "bench").rule_count(),
               nflens_parse_s=ours["median_s"])
    return row


def fit_exponent(rows: list[dict], x: str, y: str) -> float | None:
    """Least-squares slope of log(y) against log(x): 1 is linear, 0 constant."""
    pts = [(math.log(r[x]), math.log(r[y])) for r in rows if r.get(x) and r.get(y)]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    num = sum((a - mx) * (b - my) for a, b in pts)
    den = sum((a - mx) ** 2 for a, _ in pts)
    return round(num / den, 3) if den else None
