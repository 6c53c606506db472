"""`nflens diff BEFORE AFTER` (CONTRACT §6): audit two snapshots of one host and show what
changed (analysis/diff.py). This module only reads, audits and renders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def diff(
    before: Path = typer.Argument(..., help="the earlier snapshot (directory or .tar.gz)"),
    after: Path = typer.Argument(..., help="the later snapshot of the same host"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1,
                             help="local processes for each audit's exposure analysis"),
) -> None:
    """Exposure gained and lost, egress gained and lost, findings added and resolved.
    Fixes are not re-verified here (`audit --snapshot AFTER` does)."""
    from nflens.analysis.audit import audit
    from nflens.analysis.diff import diff_audits
    from nflens.analysis.exposure import never_sources
    from nflens.snapshot.archive import read_host

    hosts = [read_host(before), read_host(after)]  # both read before either is audited
    mapper = None
    if jobs > 1:
        from nflens.cli.jobs import process_mapper

        mapper = process_mapper(jobs)
    results = [audit(h, verify=False, mapper=mapper) for h in hosts]
    never = {v: sorted({a for h in hosts for a in never_sources(h).get(v, [])}) for v in (4, 6)}
    out = diff_audits(results[0], results[1], never)
    if html is not None:
        from nflens.report.html import write_page
        from nflens.report.html.diff_html import render_diff_html

        write_page(html, render_diff_html(out, str(before), str(after)))
        typer.echo(f"wrote {html}", err=True)
    if as_json:
        doc = {"before": str(before), "after": str(after), **out}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return
    from nflens.report.console import console
    from nflens.report.diff import render_diff

    render_diff(out, console(wide_off_tty=True), str(before), str(after))


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
