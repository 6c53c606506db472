"""`make bench`: how nflens scales. Prints a table, writes bench/results/bench.json and the
log-log plot bench/results/scaling.png; `bench/readme.py` then writes the README's performance
section from the JSON.

Figures are medians of several runs with their spread (min-max). Side by side: the kernel
loading the same rules (iptables-restore into a scratch namespace, root only) and fffuu's
published figures for the TUM dumps (bench/readme.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import measures  # noqa: E402
import realmeasures  # noqa: E402
import synth_real  # noqa: E402

TRACE_SIZES = (10, 50, 100, 250, 500, 1000, 2000)
AUDIT_SIZES = (10, 50, 100, 250, 500, 1000)


def collect(progress) -> dict:
    rows: list[dict] = []
    started = time.perf_counter()
    load_start = realmeasures.loadavg()

    def add(row):
        if row is not None:
            rows.append(row)
            progress(row)

    for row in measures.parse_corpus():
        add(row)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 2000):
            add(measures.snapshot_load(n, Path(tmp)))
    styles = ("28", "20.10") + (("29",) if measures.can_load_nft() else ())
    for style in styles:
        for n in TRACE_SIZES:
            add(measures.trace(n, style))
    add(measures.check_throughput(500, 10000))
    for n in AUDIT_SIZES:
        add(measures.audit(n, repeat=3 if n <= 100 else 1))
    add(measures.audit(500, style="20.10"))
    if "29" in styles:
        add(measures.audit(500, style="29"))
    add(measures.policy_plan(500))
    for name in (measures.TUM, measures.TUM6):
        path = measures.SHARED / "real-world" / name
        if path.exists():
            for chain in ("FORWARD", "INPUT"):
                add(measures.matrix(path, chain, 22))
    add(measures.peak_memory("audit", 500))
    add(measures.peak_memory("check_throughput", 500, 10000))
    for n in (100, 500, 2000):
        add(measures.kernel_load(n))
    real_rows(add)
    trace28 = [r for r in rows if r["what"] == "trace" and r["style"] == "28"]
    audits = [r for r in rows if r["what"] == "audit" and r.get("style") == "28"]
    fits = {"trace_per_flow_vs_rules": measures.fit_exponent(trace28, "rules", "per_flow_ms"),
            "audit_total_vs_rules": measures.fit_exponent(audits, "rules", "median_s"),
            "audit_total_vs_containers": measures.fit_exponent(audits, "containers", "median_s")}
    real = [r for r in rows if r["what"] == "audit" and r.get("style") == "real"]
    fits["real_audit_cpu_vs_published"] = measures.fit_exponent(real, "published", "cpu_s")
    fits["real_audit_vs_published"] = measures.fit_exponent(real, "published", "median_s")
    fits["real_trace_cpu_vs_rules"] = measures.fit_exponent(
        [r for r in rows if r["what"] == "trace" and r.get("style") == "real"], "rules",
        "per_flow_cpu_ms")
    return {"rows": rows, "fits": fits, "seconds": round(time.perf_counter() - started, 1),
            "machine": _machine(), "loadavg": realmeasures.loadavg(),
            "loadavg_start": load_start}


def real_rows(add) -> None:
    """Issue 14: the lab-built hosts (bench/hosts/, `make bench-hosts`) end to end, and the
    synthetic hosts of their shape up to 2,000 containers."""
    from nflens.snapshot.read import read_snapshot

    for snap in realmeasures.lab_hosts():
        add(realmeasures.check_cli(snap))
        for jobs in (1, 2):
            add(realmeasures.audit_cli(snap, jobs))
        add(realmeasures.peak_audit(snap))
        add(realmeasures.trace_host(read_snapshot(snap), f"{snap.name} (lab)"))
        if snap.name.startswith("docker20.10") and "-ufw-" not in snap.name:
            add(realmeasures.synthetic_vs_lab(snap))  # synth_real is that shape only
    for n in realmeasures.REAL_SIZES:
        host = realmeasures.synthetic(n)
        add(realmeasures.trace_host(host, f"real-shaped-{n}"))
        add(realmeasures.audit_host(host, f"real-shaped-{n}"))
    if measures.can_load_nft():  # Docker 29's nftables backend, the admin's table beside it
        for n in (400, 2000):
            host = synth_real.host29(n, 10, n // 2, round(n // 2 * 115 / 200))
            for row in (realmeasures.trace_host(host, f"real-shaped-docker29-nft-{n}"),
                        realmeasures.audit_host(host, f"real-shaped-docker29-nft-{n}")):
                row["style"] = "real29"
                add(row)
    add(realmeasures.help_time())


def _machine() -> str:
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for what, style, key, label in (("trace", "28", "per_flow_ms",
                                     "trace, ms per flow (Docker 28)"),
                                    ("trace", "20.10", "per_flow_ms", "trace, ms per flow (20.10)"),
                                    ("trace", "29", "per_flow_ms", "trace, ms per flow (29, nft)"),
                                    ("audit", "28", "median_s", "audit, s per host"),
                                    ("trace", "real", "per_flow_ms",
                                     "trace, ms per flow (real-shaped)"),
                                    ("audit", "real", "median_s",
                                     "audit, s per host (real-shaped)")):
        pts = sorted((r["rules"], r[key]) for r in result["rows"]
                     if r["what"] == what and r.get("style") == style)
        if pts:
            ax.loglog(*zip(*pts), marker="o", label=label)
    ax.set_xlabel("rules in the ruleset")
    ax.set_ylabel("time")
    fits = result["fits"]
    ax.set_title(f"nflens scaling: trace exponent {fits['trace_per_flow_vs_rules']}, "
                 f"audit exponent {fits['audit_total_vs_rules']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    result = collect(lambda row: console.print(f"  {row['what']:<13} {row['case']:<40} "
                                               f"{row.get('median_s', '')}", highlight=False))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    plotted = plot(result, out / "scaling.png")
    table = Table(title=f"nflens benchmark ({result['machine']}; median, spread min-max)")
    keys = ("what", "case", "rules", "median_s", "spread_s", "per_flow_ms", "flows_per_s",
            "peak_mib", "nflens_parse_s")
    for k in keys:
        table.add_column(k)
    for r in result["rows"]:
        table.add_row(*(str(r.get(k, "")) for k in keys))
    Console().print(table)
    Console().print(f"scaling exponents (log-log least squares): {result['fits']}")
    Console().print(f"wrote {out / 'bench.json'}" + (f" and {out / 'scaling.png'}" if plotted
                                                      else " (no matplotlib: no plot)")
                    + f" in {result['seconds']} s")


if __name__ == "__main__":
    main()
