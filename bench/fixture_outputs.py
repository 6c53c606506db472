"""`audit --json` and `check --json` of every fixture snapshot, dumped and compared (issue 28:
outputs must stay byte-identical across a refactor).

    PYTHONPATH=. python bench/fixture_outputs.py dump OUT     # one file per snapshot and command
    PYTHONPATH=. python bench/fixture_outputs.py compare A B # differences; `audit --json`'s added
                                                  # top-level `fix_script` is left out of them
Run `dump` on the old and on the new code (a `git archive` of the old commit with its src first
on sys.path), then `compare`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.inprocess import run_main

REPO = Path(__file__).resolve().parents[1]
GLOBS = ("lab", "fail2ban", "owners", "hostile_pinned", "routing", "fuzz", "nft_host")


def snapshots() -> list[Path]:
    fixtures = REPO / "tests" / "fixtures"
    dirs = {p.parent for g in GLOBS for p in (fixtures / g).glob("**/ip-addr.json")}
    dirs |= {p.parent for p in (REPO.parent / "shared" / "examples").glob("**/ip-addr.json")}
    return sorted(dirs)


def dump(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for d in snapshots():
        key = str(d.relative_to(d.anchor)).replace("/", "_")
        r = run_main("audit", "--json", "--snapshot", str(d))
        (out / f"{key}.audit").write_text(f"{r.code}\n{r.out}\n{r.traceback or ''}")
        if (d / "flows.json").exists():
            r = run_main("check", "--json", "--snapshot", str(d), str(d / "flows.json"))
            (out / f"{key}.check").write_text(f"{r.code}\n{r.out}\n{r.traceback or ''}")


def _without_script(text: str) -> str:
    code, _, rest = text.partition("\n")
    try:
        doc = json.loads(rest.strip())
    except ValueError:
        return text
    doc.pop("fix_script", None)
    return f"{code}\n" + json.dumps(doc, indent=1) + "\n\n"


def compare(a: Path, b: Path) -> int:
    bad = 0
    for f in sorted(a.iterdir()):
        g = b / f.name
        old = f.read_text()
        new = g.read_text() if g.exists() else None
        if new is not None and f.suffix == ".audit" and old != new:
            new = _without_script(new)
        if old != new:
            print("DIFF", f.name)
            bad += 1
    print(f"{bad} of {len(list(a.iterdir()))} outputs differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(Path(sys.argv[2]))
    else:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
