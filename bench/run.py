"""`make bench`: how nflens scales. Prints a table and writes bench/results/bench.json.

Each figure is the median of several runs with its spread (min-max).
"""

from __future__ import annotations

import ipaddress as ip
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from nflens.ir.packet import Endpoint, Flow  # noqa: E402
from nflens.kernel.simulate import Simulator  # noqa: E402

import synth  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "corpus"


def timed(fn, repeat: int = 5) -> tuple[float, float, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples), max(samples)


def flows(n: int, containers: int) -> list[Flow]:
    out = []
    for i in range(n):
        port = 10000 + (i * 7919) % max(containers, 1)
        src = ip.ip_address("198.51.100.2") if i % 2 else ip.ip_address("198.51.100.3")
        out.append(Flow(f"f{i}", Endpoint(iface="eth0", src=src), ip.ip_address("198.51.100.1"), port))
    return out


def bench_docker(containers: int, nflows: int) -> dict:
    t0 = time.perf_counter()
    host = synth.host(containers)
    build = time.perf_counter() - t0
    sim = Simulator(host)
    fl = flows(nflows, containers)
    med, lo, hi = timed(lambda: [sim.run(f) for f in fl], repeat=3)
    return {"case": f"docker-{containers}", "rules": host.ruleset.rule_count(),
            "parse_s": round(build, 4), "flows": nflows, "check_s": round(med, 4),
            "per_flow_ms": round(1000 * med / nflows, 3), "spread_s": [round(lo, 4), round(hi, 4)],
            "flows_per_s": round(nflows / med, 1)}


def bench_policy_plan(containers: int) -> dict:
    """`nflens policy plan` on a synthetic host: resolve, compile, and prove on the simulator
    (every probe flow simulated before and after). Issue 6 asks for under 5 s at 500."""
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
    med, lo, hi = timed(lambda: plans.append(make_plan(policy, host)), repeat=3)
    plan = plans[-1]
    assert plan.ok, "the benchmark policy must verify"
    return {"case": f"policy plan docker-{containers}", "rules": host.ruleset.rule_count(),
            "flows": len(plan.verification.judged) * 2, "check_s": round(med, 4),
            "spread_s": [round(lo, 4), round(hi, 4)]}


def bench_parse_corpus() -> list[dict]:
    from nflens.dialects import parse_file

    rows = []
    files = sorted((SHARED / "real-world").glob("*")) if SHARED.is_dir() else []
    biggest = sorted(files, key=lambda p: p.stat().st_size)[-3:]
    for path in biggest:
        med, lo, hi = timed(lambda: parse_file(path))
        rules = parse_file(path).rule_count()
        rows.append({"case": f"parse {path.name}", "rules": rules, "parse_s": round(med, 4),
                     "spread_s": [round(lo, 4), round(hi, 4)]})
    return rows


def main() -> None:
    rows = bench_parse_corpus()
    for n, f in ((10, 1000), (100, 1000), (500, 10000), (2000, 2000)):
        rows.append(bench_docker(n, f))
    rows.append(bench_policy_plan(500))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="nflens benchmark (median of runs; spread min-max)")
    keys = ["case", "rules", "parse_s", "flows", "check_s", "per_flow_ms", "flows_per_s", "spread_s"]
    for k in keys:
        table.add_column(k)
    for r in rows:
        table.add_row(*(str(r.get(k, "")) for k in keys))
    Console().print(table)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
