"""`make bench` (fleet part): 200 host snapshots audited on Dask with 1 and 2 local workers.

The hosts are the lab's real snapshots (tests/fixtures/lab: real dockerd in namespaces), copied
round-robin to 200 host folders, so the per-host cost is that of real small hosts. Prints the
wall time of each run (cluster start-up excluded and included), the speed-up and the projected
time for 10,000 hosts; writes bench/results/fleet.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from nflens.fleet.hosts import discover  # noqa: E402
from nflens.fleet.run import audit_fleet, dask_client  # noqa: E402
from nflens.fleet.store import Store  # noqa: E402

LAB = HERE.parent / "tests" / "fixtures" / "lab"
HOSTS = 200


def build_root(root: Path, n: int) -> None:
    sources = sorted(p.parent for p in LAB.glob("*/expected.json"))
    for i in range(n):
        shutil.copytree(sources[i % len(sources)], root / f"host{i:04d}")


def run(root: Path, workers: int) -> dict:
    refs = discover(root)
    started = time.perf_counter()
    with dask_client(workers, None) as client:
        client.submit(sum, [1]).result()  # the cluster is up and a worker answers
        ready = time.perf_counter()
        records, _ = audit_fleet(refs, Store(None), client)
        done = time.perf_counter()
    errors = sum(1 for r in records if "error" in r)
    return {"workers": workers, "hosts": len(records), "errors": errors,
            "audit_s": round(done - ready, 2), "startup_s": round(ready - started, 2)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_root(root, HOSTS)
        rows = [run(root, 1), run(root, 2)]
    one, two = rows
    result = {"hosts": HOSTS, "runs": rows,
              "speedup": round(one["audit_s"] / two["audit_s"], 2),
              "projected_10000_hosts_s_on_2_workers": round(two["audit_s"] / HOSTS * 10_000)}
    for r in rows:
        print(f"fleet audit of {r['hosts']} hosts on {r['workers']} worker(s): {r['audit_s']} s "
              f"(+{r['startup_s']} s cluster start-up), {r['errors']} errors")
    print(f"speed-up 1 -> 2 workers: {result['speedup']}; projected for 10,000 hosts on 2 "
          f"workers: {result['projected_10000_hosts_s_on_2_workers'] / 60:.0f} min")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "fleet.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
