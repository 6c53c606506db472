"""How far nflens agrees with the kernel on the lab's fixtures: flows / agreed / uncertain /
disagreed per scenario variant and Docker version (issue 25's closing figures).

A flow is scored against what the kernel did (expected.json):
- agreed: nflens's verdict is the kernel's;
- uncertain: nflens said `uncertain`, or the flow is one whose kernel outcome hangs on the
  lab's network beyond the host (expected.json `"beyond"`: the lab built an asymmetric path no
  snapshot shows) and nflens's answer names that assumption in its `assumed:` list (it took the
  snapshot's routes as the truth, and the lab's network is not what the routes suggest);
- disagreed: anything else — a confident answer the kernel contradicts.
The fixture tests (tests/kernel/test_real_snapshots.py) demand `agreed` for every flow not in
`"beyond"` and at least `uncertain` for those in it.

`python -m nflens.lab.agreement tests/fixtures/lab [SCENARIO ...]` prints the table.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from nflens.kernel.simulate import FlowResult

SCORES = ("agreed", "uncertain", "disagreed")


def score(kernel: str, result: FlowResult, beyond: bool = False) -> str:
    """One flow's score (the module docstring says what each means)."""
    if result.verdict == kernel:
        return "agreed"
    if result.verdict == "uncertain":
        return "uncertain"
    if beyond and any(a.startswith("assumed:") and "network beyond" in a
                      for a in result.assumptions):
        return "uncertain"
    return "disagreed"


@dataclass
class Row:
    version: str
    fixture: str
    counts: dict[str, int]
    disagreed: list[str]

    @property
    def flows(self) -> int:
        return sum(self.counts.values())


def fixture_scores(snap: Path) -> dict[str, str]:
    """flow name -> score for one fixture directory (flaky flows left out)."""
    from nflens.flows import load_flows
    from nflens.kernel.simulate import Simulator
    from nflens.snapshot.read import read_snapshot

    expected = json.loads((snap / "expected.json").read_text())
    flaky, beyond = set(expected.get("flaky", [])), expected.get("beyond", {})
    sim = Simulator(read_snapshot(snap))
    out = {}
    for flow in load_flows(snap / "flows.json"):
        kernel = expected["expected"].get(flow.name)
        if kernel is None or flow.name in flaky:
            continue
        out[flow.name] = score(kernel, sim.run(flow), flow.name in beyond)
    return out


def table(root: Path, scenarios: list[str]) -> list[Row]:
    """One row per fixture of the named scenarios, per Docker version (matrix's layout)."""
    from nflens.lab import versions
    from nflens.lab.matrix import version_dirs

    rows = []
    for key, dirs in version_dirs(root).items():
        for snap in dirs:
            if scenarios and snap.name.rsplit("-", 1)[0] not in scenarios \
                    and snap.name.split("-", 1)[0] not in scenarios:
                continue
            scores = fixture_scores(snap)
            counts = {s: sum(v == s for v in scores.values()) for s in SCORES}
            rows.append(Row(versions.get(key).version, snap.name, counts,
                            [n for n, v in scores.items() if v == "disagreed"]))
    return rows


def render(rows: list[Row]) -> str:
    lines = ["| Docker | fixture | flows | agreed | uncertain | disagreed |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        c = r.counts
        lines.append(f"| {r.version} | {r.fixture} | {r.flows} | {c['agreed']} | "
                     f"{c['uncertain']} | {c['disagreed']} |")
    total = {s: sum(r.counts[s] for r in rows) for s in SCORES}
    lines.append(f"| all | {len(rows)} fixtures | {sum(total.values())} | {total['agreed']} | "
                 f"{total['uncertain']} | {total['disagreed']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m nflens.lab.agreement FIXTURES [SCENARIO ...]", file=sys.stderr)
        return 2
    print(render(table(Path(argv[0]), argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
