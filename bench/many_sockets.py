"""Issue 29.13: time of `audit`, `policy plan` and `snapshot show` on a snapshot with many
listening sockets, and the exponent of its growth (1.0: linear). Not a test: run by hand,
`python bench/many_sockets.py [N ...]` (default 2000 8000 50000), on an idle machine.

Two shapes: `dup` repeats the seed's ss.txt lines (what the mutation fuzz did: one port,
thousands of sockets: it was quadratic, every packet scanned every socket of its port and every
socket was analysed again) and `ports` gives each socket its own port (linear before and after:
~3 ms of simulation per port in `audit`).
Measured 2026-12-07 (2 shared cores), dup: audit 2000 -> 8.1 s, 4000 -> 23.1 s before;
after 0.84 s, 1.35 s, 8000 2.49 s, 50000 15.4 s user (most of it the rich tables of 50,000
exposures); policy plan 50000 0.88 s; snapshot show 50000 15.3 s (rich tables, linear).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
POLICY = REPO / "examples" / "policies" / "seed001-input-bypass.yaml"
COMMANDS = {"audit": ["audit", "--snapshot", "{snap}", "--no-verify"],
            "policy plan": ["policy", "plan", str(POLICY), "--snapshot", "{snap}"],
            "snapshot show": ["snapshot", "show", "{snap}"]}


def _lines(shape: str, n: int) -> list[str]:
    if shape == "dup":
        seed = (SEED / "ss.txt").read_text().splitlines()
        return (seed * (n // len(seed) + 1))[:n]
    return [f'tcp LISTEN 0 4096 0.0.0.0:{1024 + i % 60000} 0.0.0.0:* '
            f'users:(("srv",pid={1000 + i},fd=3))' for i in range(n)]


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nflens", *argv], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, timeout=1800)
    return time.perf_counter() - start


def main(sizes: list[int]) -> None:
    for shape in ("dup", "ports"):
        for name, argv in COMMANDS.items():
            times = []
            for n in sizes:
                with tempfile.TemporaryDirectory() as tmp:
                    snap = Path(tmp) / "snap"
                    shutil.copytree(SEED, snap)
                    (snap / "ss.txt").write_text("\n".join(_lines(shape, n)) + "\n")
                    times.append(_time([a.format(snap=snap) for a in argv]))
                print(f"{shape:5} {name:13} {n:6} sockets: {times[-1]:7.2f} s", flush=True)
            if len(sizes) > 1 and times[0] > 0:
                k = math.log(times[-1] / times[0]) / math.log(sizes[-1] / sizes[0])
                print(f"{shape:5} {name:13} exponent {k:.2f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000, 8000, 50000])
