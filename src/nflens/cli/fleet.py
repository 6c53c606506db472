"""`nflens fleet audit ROOT` (CONTRACT §5): one audit per host snapshot on Dask, then the fleet
summary (ports per host, findings per kind, hosts that differ from their group, changes since
an earlier run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nflens.cli import gate
from nflens.report.console import console as text_console

fleet_app = typer.Typer(help="Audit many hosts at once (Dask distributed).", no_args_is_help=True)


@fleet_app.command("audit")
def fleet_audit(
    root: Path = typer.Argument(..., help="folder with one snapshot per subfolder or .tar.gz"),
    workers: int = typer.Option(2, "--workers", help="local worker processes (no --scheduler)"),
    jobs: int | None = typer.Option(None, "--jobs", "-j", hidden=True,
                                    help="the same as --workers (audit's name for it)"),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                         help="address of an existing Dask scheduler"),
    out: Path | None = typer.Option(None, "--out", help="keep JSON lines per host here; an "
                                    "unchanged snapshot found there is not audited again"),
    previous: Path | None = typer.Option(None, "--previous", help="an earlier run's --out to "
                                         "diff against (default: the run already in --out)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained page"),
    fail_on: str | None = gate.FAIL_ON,
    baseline: Path | None = gate.BASELINE,
    write_baseline_to: Path | None = gate.WRITE_BASELINE,
) -> None:
    """Audit every host of ROOT on Dask; each host's result is what `nflens audit` says."""
    from rich.progress import Progress

    from nflens.fleet.hosts import discover
    from nflens.fleet.run import audit_fleet, dask_client
    from nflens.fleet.store import Store, previous_run
    from nflens.fleet.summary import summarise

    accepted = gate.read_baseline(baseline)
    workers = jobs if jobs is not None else workers  # the hidden alias (issue 29.15)
    refs = discover(root)
    store = Store(out)
    before = previous_run(previous) if previous is not None else (
        store.last_run() or None if out is not None else None)
    against = str(previous or out) if before is not None else None
    console = Console(stderr=True)
    show = console.is_terminal
    try:
        with Progress(console=console, transient=True, disable=not show) as progress, \
                dask_client(workers, scheduler) as client:
            task = progress.add_task("auditing hosts", total=len(refs))
            records, reused = audit_fleet(refs, store, client,
                                          lambda rec, cached: progress.advance(task))
    except BaseException:
        store.close()  # keep what finished: the next run resumes from it
        raise
    current = _current(records)
    records, before = _accepted(records, accepted), _accepted_before(before, accepted)
    summary = summarise(records, before, against, reused)
    store.finish(summary)
    _emit(records, summary, as_json, html)
    gate.write_baseline(write_baseline_to, current)
    broken = summary["errors"]
    unread = [f"{len(broken)} host(s) could not be read: {', '.join(broken)}"] if broken else []
    gate.exit_on([f for r in records for f in r.get("findings", [])], fail_on, unread)


def _emit(records: list[dict], summary: dict, as_json: bool, html: Path | None) -> None:
    if html is not None:
        from nflens.report.html import write_page
        from nflens.report.html.fleet_html import render_fleet_html

        write_page(html, render_fleet_html(records, summary))
        typer.echo(f"wrote {html}", err=True)
    if as_json:
        hosts = [{k: v for k, v in r.items() if k != "transient"} for r in records]
        sys.stdout.write(json.dumps({"hosts": hosts, "summary": summary}, indent=1) + "\n")
    else:
        render(records, summary, text_console())


def _current(records: list[dict]) -> list[dict]:
    """Every host's findings as baseline entries (`--write-baseline`), accepted ones too."""
    from nflens.analysis.baseline import document

    return [e for r in records for e in document(r.get("findings", []), r["host"])]


def _accepted(records: list[dict], accepted) -> list[dict]:
    """Copies of the records without the findings the baseline accepts (the stored records in
    --out stay whole: a later run with another baseline must see every finding)."""
    if accepted is None:
        return records
    out = []
    for r in records:
        r = dict(r)
        gate.apply_baseline(r, accepted, r["host"])
        out.append(r)
    return out


def _accepted_before(before: dict | None, accepted) -> dict | None:
    """The earlier run seen through the same baseline: an accepted finding is not "resolved"."""
    if before is None or accepted is None:
        return before
    return {r["host"]: r for r in _accepted(list(before.values()), accepted)}


def render(records: list[dict], summary: dict, console: Console) -> None:
    """The hosts that could not be read first (they are what needs a look), then the hosts,
    the findings across the fleet, the hosts that differ from their group, the changes."""
    for r in records:
        if "error" in r:
            console.print(Text(f"{r['host']}: could not be audited: {r['error']}", style="red"))
    broken = len(summary["errors"])
    title = f"{summary['hosts']} host(s): {summary['audited']} audited"
    title += f", {broken} could not be read" if broken else ""
    title += (f"; {summary['reused']} unchanged since the last run (not audited again)"
              if summary["reused"] else "")
    hosts = Table(title=title)
    for col in ("host", "group", "reachable ports", "from the internet", "findings"):
        hosts.add_column(col)
    for r in sorted(records, key=lambda r: "error" not in r):  # stable: by name within each
        if "error" in r:
            hosts.add_row(Text(r["host"]), "", Text("could not be read (above)", style="red"),
                          "", "")
            continue
        reach = sorted({f"{e['proto']}/{e['host_port']}" for e in r.get("exposure", [])
                        if any(x.get("sources") for x in e.get("reachable_from", []))})
        internet = [p["port"] for p in summary["ports"] if r["host"] in p["internet"]]
        sev: dict[str, int] = {}
        for f in r.get("findings", []):
            sev[f["severity"]] = sev.get(f["severity"], 0) + 1
        hosts.add_row(Text(r["host"]), Text(str(r.get("group", ""))), Text(", ".join(reach)),
                      Text(", ".join(internet), style="red" if internet else ""),
                      Text(", ".join(f"{n} {s}" for s, n in sev.items())))
    console.print(hosts)
    _render_kinds(summary, console)
    _render_groups(summary, console)
    _render_changes(summary, console)


def _render_kinds(summary: dict, console: Console) -> None:
    kinds = Table(title="Findings across the fleet")
    for col in ("finding", "severity", "hosts", "findings", "on"):
        kinds.add_column(col)
    for f in summary["findings"]:
        kinds.add_row(Text(f["id"]), f["severity"], str(f.get("host_count", len(f["hosts"]))),
                      str(f["count"]), Text(_names(f["hosts"])))
    console.print(kinds)


def _render_groups(summary: dict, console: Console) -> None:
    for g in summary["groups"]:
        if g.get("variants"):
            parts = [f"{', '.join(v['hosts'])}: {'; '.join(v['exposure']) or 'nothing reachable'}"
                     for v in g["variants"]]
            console.print(Text(f"group {g['group']}: no majority among {len(g['hosts'])} hosts, "
                               f"{len(parts)} variants: " + " | ".join(parts)))
        for d in g["differ"]:
            what = "; ".join([f"+ {x}" for x in d["extra"]] + [f"- {x}" for x in d["missing"]])
            console.print(Text(f"differs from group {g['group']}: {d['host']}: {what}"))


def _render_changes(summary: dict, console: Console) -> None:
    changes = summary.get("changes")
    if not changes:
        return
    console.print(Text(f"since {changes['against']}: {len(changes['hosts'])} host(s) changed, "
                       f"{len(changes['new_hosts'])} new, {len(changes['gone_hosts'])} gone"))
    for h in changes["hosts"]:
        for key in ("new_findings", "resolved_findings"):
            for f in h.get(key, []):
                console.print(Text(f"  {h['host']}: {key.split('_')[0]} finding "
                                   f"{f['id']} ({f['subject']})"))
        for key, mark in (("exposure_added", "+"), ("exposure_removed", "-")):
            for e in h.get(key, []):
                console.print(Text(f"  {h['host']}: {mark} {e}"))


def _names(hosts: list[str], limit: int = 8) -> str:
    return ", ".join(hosts[:limit]) + (f" (+{len(hosts) - limit})" if len(hosts) > limit else "")


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")
