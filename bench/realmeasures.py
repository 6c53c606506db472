"""The figures of issue 14 on hosts shaped like real ones: the lab-built host (bench/hosts/) and
the synthetic hosts of the same shape (synth_real) for the sizes the lab cannot reach.

CPU time is reported beside wall time: on a shared machine the wall clock measures the other
users too (each row says both; the README quotes the median wall time)."""

from __future__ import annotations

import ipaddress as ip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import realhosts
import synth_real

from nflens.ir.packet import Endpoint, Flow

NFLENS = [sys.executable, "-m", "nflens"]
REAL_SIZES = (100, 200, 400, 1000, 2000)  # containers; half of them publish a port


def _run(argv: list[str], repeat: int) -> dict:
    """Median wall and CPU time of a command (its output discarded), and its peak RSS, each
    run measured by GNU time (`%M %U %S` on the last line of stderr)."""
    walls, cpus, peaks = [], [], []
    for _ in range(repeat):
        w0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - w0)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{argv}: {proc.stderr[-400:]}")
        kib, user, system = proc.stderr.strip().splitlines()[-1].split()
        cpus.append(float(user) + float(system))
        peaks.append(int(kib))
    return {"median_s": round(statistics.median(walls), 3),
            "spread_s": [round(min(walls), 3), round(max(walls), 3)],
            "cpu_s": round(statistics.median(cpus), 3), "runs": repeat,
            "peak_mib": round(max(peaks) / 1024, 1)}


def _timed(fn, repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"median_s": round(statistics.median(walls), 4),
            "spread_s": [round(min(walls), 4), round(max(walls), 4)],
            "cpu_s": round(statistics.median(cpus), 4), "runs": repeat}


def lab_hosts() -> list[Path]:
    return [realhosts.unpacked(a) for a in realhosts.archives()]


def check_cli(snapshot: Path, repeat: int = 3) -> dict:
    """`nflens check --json` end to end (start, load, simulate, print) of the issue's flows."""
    with tempfile.TemporaryDirectory() as tmp:
        flows = Path(tmp) / "flows.json"
        n = realhosts.write_flows(snapshot, flows)
        row = _run([*NFLENS, "check", "--snapshot", str(snapshot), str(flows), "--json"], repeat)
    row.update(what="check", case=f"{snapshot.name} (lab), check --json end to end",
               rules=_rules(snapshot), flows=n,
               flows_per_s=round(n / row["median_s"], 1),
               flows_per_cpu_s=round(n / row["cpu_s"], 1))
    return row


def audit_cli(snapshot: Path, jobs: int = 1, repeat: int = 3) -> dict:
    row = _run([*NFLENS, "audit", "--snapshot", str(snapshot), "--json", "--jobs", str(jobs)],
               repeat)
    row.update(what="audit", case=f"{snapshot.name} (lab), audit --json --jobs {jobs}",
               style="lab", rules=_rules(snapshot), jobs=jobs)
    return row


def help_time(repeat: int = 5) -> dict:
    row = _run([*NFLENS, "--help"], repeat)
    row.update(what="startup", case="nflens --help")
    return row


def _rules(snapshot: Path) -> int:
    from nflens.snapshot.read import read_snapshot

    return read_snapshot(snapshot).ruleset.rule_count()


def _inbound(n: int, ports: list[int]) -> list[Flow]:
    out = []
    for i in range(n):
        port = ports[(i * 7919) % len(ports)]
        lan = i % 2 == 0
        src = ip.ip_address("10.99.0.2" if lan else "203.0.113.2") + (i // 2) % 12
        out.append(Flow(f"f{i}", Endpoint(iface="eth0" if lan else "eth1", src=src),
                        ip.ip_address("10.99.0.1" if lan else "198.51.100.1"), port))
    return out


def trace_host(host, case: str, nflows: int = 400, repeat: int = 3) -> dict:
    from nflens.kernel.simulate import Simulator

    sim = Simulator(host)
    ports = sorted({b.host_port for c in host.docker.containers for b in c.ports}) or [80]
    fl = _inbound(nflows, ports)
    row = _timed(lambda: [sim.run(f) for f in fl], repeat)
    row.update(what="trace", case=case, style="real", rules=host.ruleset.rule_count(),
               containers=len(host.docker.containers), flows=nflows,
               per_flow_ms=round(1000 * row["median_s"] / nflows, 3),
               per_flow_cpu_ms=round(1000 * row["cpu_s"] / nflows, 3))
    return row


def synthetic(containers: int):
    """Half the containers publish a port and the allow-list admits 115 of every 200 of them,
    as on the lab host: the same mix of findings at every size, so the audit's cost is
    compared for the same kind of host (the earlier fixed 115 admitted all ports of small
    hosts and few of big ones)."""
    published = containers // 2
    return synth_real.host(containers, 10, published, round(published * 115 / 200))


def audit_host(host, case: str, repeat: int = 1) -> dict:
    from nflens.analysis.audit import audit

    found = []
    row = _timed(lambda: found.append(audit(host)), repeat)
    row.update(what="audit", case=case, style="real", rules=host.ruleset.rule_count(),
               containers=len(host.docker.containers),
               published=sum(1 for c in host.docker.containers for b in c.ports
                             if ":" not in b.host_ip),
               exposures=len(found[-1]["exposure"]), findings=len(found[-1]["findings"]))
    return row


def synthetic_vs_lab(snapshot: Path) -> dict:
    """The synthetic host of the lab host's size: the same rule shapes, and the per-flow cost
    of the same flows within 20 % (the acceptance of bench/synth_real.py)."""
    from nflens.snapshot.read import read_snapshot

    lab = read_snapshot(snapshot)
    n = len(lab.docker.containers)
    published = sum(1 for c in lab.docker.containers if c.ports)
    syn = synth_real.host(n, 10, published, min(115, published))
    a = trace_host(lab, "lab", repeat=5)
    b = trace_host(syn, "synthetic", repeat=5)
    return {"what": "synthetic vs lab", "case": f"{snapshot.name} vs synth_real({n})",
            "same_rule_shapes": synth_real.shape(lab.ruleset) == synth_real.shape(syn.ruleset),
            "lab_ms": a["per_flow_cpu_ms"], "synthetic_ms": b["per_flow_cpu_ms"],
            "ratio": round(b["per_flow_cpu_ms"] / a["per_flow_cpu_ms"], 3)}


def peak_audit(snapshot: Path) -> dict:
    row = _run([*NFLENS, "audit", "--snapshot", str(snapshot), "--json"], 1)
    return {"what": "peak memory", "case": f"audit {snapshot.name}", "peak_mib": row["peak_mib"],
            "median_s": row["median_s"]}


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)
