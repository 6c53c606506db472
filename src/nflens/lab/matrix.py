"""Every scenario variant on every Docker version, on the real kernel: `nflens lab matrix`.

Each combination is one `nflens lab run ... --out DIR --json` in a process of its own (a lab run
owns signal handlers, forks pyroute2 helpers and must tear down whatever happens: a process per
run keeps one failure from touching another, and lets a few run at once -- a run mostly waits
on probe timeouts, not the CPU). The kernel's outcomes land in the fixture layout
(`fixture_dir`), the simulator's verdicts are compared, and the summary counts per version.
A run that cannot start or outlives CELL_TIMEOUT is that cell's error, as a run that fails is.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from nflens.lab import versions
from nflens.proc import LOCAL, ProcessRunner

CELL_TIMEOUT = 900.0


def fixture_dir(root: Path, key: str, name: str) -> Path:
    """Docker 20.10's fixtures stay at ROOT/<scenario-variant>/ (the README and tests cite those
    paths); every other version's are under ROOT/docker<key>/<scenario-variant>/."""
    return root / name if key == versions.DEFAULT else root / f"docker{key}" / name


def version_dirs(root: Path) -> dict[str, list[Path]]:
    """key -> the fixture directories of that version (those holding an expected.json)."""
    out = {}
    for key in versions.KEYS:
        base = root if key == versions.DEFAULT else root / f"docker{key}"
        out[key] = sorted(p.parent for p in base.glob("*/expected.json"))
    return out


@dataclass
class Cell:
    key: str
    scenario: str
    variant: str
    out: Path
    seconds: float = 0.0
    flows: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.scenario}-{self.variant}"

    @property
    def disagree(self) -> list[str]:
        return [f["name"] for f in self.flows if f["simulator"] != f["kernel"]]


def cells(root: Path, keys: list[str], only: list[str] | None = None) -> list[Cell]:
    from nflens.lab.scenarios import all_scenarios

    out = []
    for key in keys:
        for sc in all_scenarios():
            if key not in sc.dockers or (only and not any(sc.name.startswith(o) for o in only)):
                continue
            out += [Cell(key, sc.name, v.name, fixture_dir(root, key, f"{sc.name}-{v.name}"))
                    for v in sc.variants]
    return out


def run_cell(cell: Cell, rounds: int = 2, runner: ProcessRunner = LOCAL) -> Cell:
    argv = [sys.executable, "-m", "nflens", "lab", "run", cell.scenario, "--variant",
            cell.variant, "--docker", cell.key, "--out", str(cell.out), "--rounds", str(rounds),
            "--json"]
    t0 = time.monotonic()
    if cell.out.exists():
        import shutil

        shutil.rmtree(cell.out)  # a fixture is written whole, never merged with an older one
    proc = runner.run(argv, timeout=CELL_TIMEOUT)
    cell.seconds = round(time.monotonic() - t0, 1)
    if proc.error is not None:
        cell.error = f"exit {proc.returncode}: {proc.error}"
        return cell
    try:
        cell.flows = json.loads(proc.stdout)["flows"]
    except (ValueError, KeyError):
        cell.error = f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
    return cell


def run_matrix(root: Path, keys: list[str], only: list[str] | None = None, jobs: int = 2,
               progress: Callable[[Cell], None] | None = None,
               runner: ProcessRunner = LOCAL) -> list[Cell]:
    todo = cells(root, keys, only)
    done = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for cell in pool.map(lambda c: run_cell(c, runner=runner), todo):
            done.append(cell)
            if progress:
                progress(cell)
    return done


def drift(cell: Cell, committed: Path) -> list[str]:
    """Flows whose kernel outcome now differs from the committed fixture's (a kernel, Docker or
    scenario change the fixtures have not followed); nothing when there is no such fixture."""
    path = fixture_dir(committed, cell.key, cell.name) / "expected.json"
    if not path.exists() or path.parent.resolve() == cell.out.resolve():
        return []
    old = json.loads(path.read_text())["expected"]
    return [f["name"] for f in cell.flows if old.get(f["name"]) not in (None, f["kernel"])]


def summary(done: list[Cell], committed: Path | None = None) -> list[dict]:
    """Per version: variants run, probes, probes the simulator agrees on, seconds, and the
    flows whose kernel outcome moved away from the `committed` fixtures."""
    rows = []
    for key in versions.KEYS:
        mine = [c for c in done if c.key == key]
        if not mine:
            continue
        probes = sum(len(c.flows) for c in mine)
        rows.append({"docker": versions.get(key).version, "variants": len(mine),
                     "probes": probes, "agree": probes - sum(len(c.disagree) for c in mine),
                     "errors": [f"{c.name}: {c.error}" for c in mine if c.error],
                     "disagree": [f"{c.name}:{n}" for c in mine for n in c.disagree],
                     "drift": [f"{c.name}:{n}" for c in mine if committed
                               for n in drift(c, committed)],
                     "seconds": round(sum(c.seconds for c in mine), 1)})
    return rows
