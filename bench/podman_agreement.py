"""Agreement of `nflens check` with the kernel on the Podman fixtures (issue 27), per Podman
version and netavark driver, every disagreement per flow, and who the model says owns
netavark's rules (its chains NETAVARK*/nv_* or the `inet netavark` table).

    .venv/bin/python bench/podman_agreement.py [tests/fixtures/podman]
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path


def _netavark(step: dict) -> bool:
    chain = str(step.get("chain") or "")
    return step.get("table") == "netavark" or chain.upper().startswith(("NETAVARK", "NV_"))


def measure(root: Path) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    owners: Counter[tuple[str, str]] = Counter()
    for d in sorted(p for p in root.iterdir() if (p / "expected.json").exists()):
        expected = json.loads((d / "expected.json").read_text())["expected"]
        combo = "-".join(d.name.split("-")[-2:])
        tally = totals.setdefault(combo, [0, 0])
        proc = subprocess.run([sys.executable, "-m", "nflens", "check", "--snapshot", str(d),
                               str(d / "flows.json"), "--json"], capture_output=True, text=True)
        if proc.returncode == 2:
            tally[1] += len(expected)
            print(f"  {d.name}: every flow unanswered (exit 2): {proc.stderr.strip()}")
            continue
        for r in json.loads(proc.stdout)["results"]:
            tally[1] += 1
            owners.update((combo, str(s.get("owner"))) for s in r["path"]
                          if s.get("step") == "rule" and _netavark(s))
            if r["verdict"] == expected[r["name"]]:
                tally[0] += 1
                continue
            print(f"  {d.name} {r['name']}: model {r['verdict']}, kernel {expected[r['name']]},"
                  f" stopped at {r['stopped_at']}")
    for combo, (agree, n) in totals.items():
        print(f"{combo}: {agree}/{n} flows agree")
    for (combo, owner), n in sorted(owners.items()):
        print(f"{combo}: {n} netavark rule steps in check paths carry owner {owner!r}")
    return totals


if __name__ == "__main__":
    measure(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/podman"))
