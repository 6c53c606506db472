"""`--fail-on`, `--baseline` and `--write-baseline` (CONTRACT §6), shared by `audit`,
`fleet audit` and `policy plan`: the options, the baseline file read and written, and the exit
code. The logic is in analysis/baseline.py (pure); here are the files and the exit.

Order, the same in every command: the baseline leaves out the accepted findings first; the
findings left are printed; `--write-baseline` writes every finding the host has now (accepted
ones included, so re-baselining keeps them); then `--fail-on` exits 1 when one that is left is
at that severity or worse. The output is always complete before that exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

# The order of findings.SEVERITIES (worst first); not imported from there so that `--help`
# loads no analysis module (tests/cli/test_gate.py checks they agree).
LEVELS = ("high", "medium", "low", "info")



def _level(value: str | None) -> str | None:
    if value is not None and value.lower() not in LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LEVELS)}")
    return value.lower() if value is not None else None


FAIL_ON = typer.Option(None, "--fail-on", metavar="|".join(reversed(LEVELS)), callback=_level,
                       help="exit 1 when a finding of this severity or worse is reported "
                            "(after --baseline)")
BASELINE = typer.Option(None, "--baseline", help="leave out the findings this file accepts "
                        "(written by --write-baseline)")
WRITE_BASELINE = typer.Option(None, "--write-baseline", help="write every current finding to "
                              "this file, to accept them as they are")


def read_baseline(path: Path | None):
    """The Baseline in `path`, or None without one; a bad file is exit 2 (FILE:LINE)."""
    if path is None:
        return None
    from nflens.analysis.baseline import parse
    from nflens.textfile import read_text

    return parse(read_text(path, "cannot read the baseline"), str(path))


def write_baseline(path: Path | None, entries: list[dict[str, Any]]) -> None:
    if path is None:
        return
    from nflens.analysis.baseline import baseline_json

    path.write_text(baseline_json(entries), encoding="utf-8")
    typer.echo(f"wrote {len(entries)} finding(s) to the baseline {path}", err=True)


def apply_baseline(result: dict[str, Any], baseline, host: str | None = None) -> None:
    """Leave the accepted findings out of `result["findings"]` (an audit result, or a fleet
    host record) and say how many in `result["baseline"]`; regroup the rest by cause."""
    if baseline is None or "findings" not in result:
        return
    from nflens.analysis.baseline import group_causes

    kept, left_out = baseline.leave_out(result["findings"], host)
    result["findings"] = group_causes(kept)
    result["baseline"] = {"left_out": left_out}


def exit_on(findings: list[dict[str, Any]], fail_on: str | None,
            also: tuple[str, ...] | list[str] = ()) -> None:
    """Exit 1 (after the output) when a finding is at `fail_on` or worse, or when `also` names
    something else that fails the gate (a fleet host that could not be read)."""
    if fail_on is None:
        return
    from nflens.analysis.baseline import at_or_above

    bad = at_or_above(findings, fail_on)
    if bad or also:
        parts = [f"{len(bad)} finding(s) of severity {fail_on} or worse"] if bad else []
        parts += list(also)
        typer.echo(f"--fail-on {fail_on}: " + "; ".join(parts), err=True)
        raise typer.Exit(1)
