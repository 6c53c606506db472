"""Issue 25: time of `audit --json` on a CrowdSec-shaped host banning N addresses with one
hash:ip ipset (the crowdsec-input lab host of tests/fixtures/fail2ban, its bouncer's
`-I INPUT -m set --match-set crowdsec-blacklists src -j DROP`, a default route via the WAN as
on a real host, N random public addresses in ipset-save.txt). Not a test: run by hand,
`python bench/ipset_bans.py [N ...]` (default 2000 20000 100000), on an idle machine.

Measured 2026-12-07 on the shared 2-core machine (CPU seconds, one run each, not farm medians):
N=500: 61.9 s (cProfile) before, 3.7 s after; N=2000: 58 s before (3 min wall), 13.6 s after;
N=20000: 140 s after (3 min 14 s wall; issue 25 saw more than 280 s before). N=100000 not run.
Before, `kernel.region.subtract` scanned all of `b` for each range of `a`, `compact` did that
for every CIDR it printed, and `refine` filtered every point of the set for every cell: all
three quadratic in N. After, the time is the simulations: one per cell, about 2 cells per
banned address per question, so linear in N (~3 ms a simulation).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(sizes: list[int]) -> None:
    from tests.analysis.test_exposure_big_ipset import ban_host

    from nflens.analysis.audit import audit
    from nflens.snapshot.read import read_snapshot

    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            snap, _ = ban_host(Path(tmp), n)
            started = time.process_time()
            audit(read_snapshot(snap))
            print(f"{n} entries: audit {time.process_time() - started:.1f} s CPU", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000, 20000, 100000])
