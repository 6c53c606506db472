"""`nflens audit` (CONTRACT §4): exposure of every published port and host socket, and the
findings with their fixes."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nflens.cli import gate
from nflens.cli.source import LIVE, SNAPSHOT, host_of
from nflens.report.console import console, literal


def audit(
    snapshot: Path | None = SNAPSHOT,
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    fix_script: bool = typer.Option(False, "--fix-script",
                                    help="print only every verified fix, as one block in the "
                                         "host's own language (verified together)"),
    no_verify: bool = typer.Option(False, "--no-verify",
                                   help="do not re-analyse each fix on the fixed snapshot"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1,
                             help="local processes for the per-port exposure analysis and "
                                  "the reaches of the findings and egress"),
    live: bool = LIVE,
    fail_on: str | None = gate.FAIL_ON,
    baseline: Path | None = gate.BASELINE,
    write_baseline_to: Path | None = gate.WRITE_BASELINE,
    workers: int | None = typer.Option(None, "--workers", min=1, hidden=True,
                                       help="the same as --jobs (fleet's name for it)"),
) -> None:
    """Who can reach what, what is wrong, and how to fix it (each fix verified)."""
    from nflens.analysis.audit import audit as run_audit

    accepted = gate.read_baseline(baseline)  # a bad baseline is exit 2 before any work
    host = host_of(snapshot, live, "audit")
    jobs = workers if workers is not None else jobs  # the hidden alias (issue 29.15)
    mapper = None
    if jobs > 1:
        from nflens.cli.jobs import process_mapper

        mapper = process_mapper(jobs)
    with audit_progress(Console(stderr=True)) as progress:
        result = run_audit(host, verify=not no_verify, mapper=mapper, progress=progress)
    from nflens.analysis.baseline import document

    current = document(result["findings"])
    gate.apply_baseline(result, accepted)
    if html is not None:
        _write_html(host, result, html)
    if fix_script:
        _print_script(result["fix_script"])
    elif as_json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    else:
        render(result, console())
    gate.write_baseline(write_baseline_to, current)
    gate.exit_on(result["findings"], fail_on)


def _print_script(script: dict) -> None:
    """The merged script on stdout; on stderr whether it was verified as a whole."""
    sys.stdout.write(script["text"])
    if script["verified"] is not True:
        typer.echo(f"nflens: the fix script is not verified as a whole: "
                   f"{script['verification']}", err=True)


@contextmanager
def audit_progress(console: Console):
    """A progress bar per stage (published ports, then finding modules) on a terminal only,
    as `check` has: nothing on a pipe or in a file."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress, TaskID

    labels = {"exposure": "exposure of published ports",
              "questions": "reaches of the findings and egress", "findings": "findings"}
    with Progress(console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _write_html(host, result, path: Path) -> None:
    from nflens.report.html import write_page
    from nflens.report.html.audit_html import render_audit_html

    write_page(path, render_audit_html(host, result))
    typer.echo(f"wrote {path}", err=True)


def render(result: dict, out: Console) -> None:
    """The text view of the audit; every name, rule and text printed literally."""
    table = Table(title="Exposure: who can open a connection", show_lines=False)
    for col in ("port", "target", "interface", "sources"):
        table.add_column(col)
    for e in result["exposure"]:
        target = e["target"]
        what = (f"DNAT {target['dnat']}:{target['port']}" if "dnat" in target
                else f"{target['container']}:{target['port']}" if "container" in target
                else target.get("process", "?"))
        for i, r in enumerate(e["reachable_from"]):
            srcs = r.get("readable", r["sources"])
            shown = "down: not reachable while down" if r.get("down") else _listed(srcs, 4)
            shown += _uncertain(r.get("uncertain"), "sources", bool(shown))
            table.add_row(literal(f"{e['proto']}/{e['host_addr']}:{e['host_port']}" if i == 0
                                  else ""),
                          literal(what if i == 0 else ""), literal(r["iface"]),
                          literal(shown or "-"))
    out.print(table)
    if result.get("egress"):
        _render_egress(result["egress"], out)
    from nflens.report.findings_text import render_findings

    render_findings(result["findings"], out)


def _uncertain(unsure: dict | None, key: str, after: bool) -> str:
    """The uncertain addresses of a table cell, readable, with the first reason: never an
    empty cell for addresses no snapshot decides (issue 25)."""
    if not unsure:
        return ""
    because = unsure.get("because") or ["?"]
    return (("\n" if after else "") + "uncertain: " + _listed(unsure.get("readable",
                                                                          unsure[key]), 3)
            + f" (because {because[0]}"
            + (f"; +{len(because) - 1} more" if len(because) > 1 else "") + ")")


def _render_egress(egress: list[dict], out: Console) -> None:
    eg = Table(title="Egress: where each Docker network can open connections")
    for col in ("network", "service", "destinations"):
        eg.add_column(col)
    for e in egress:
        dests = e.get("readable", e["destinations"])
        eg.add_row(literal(e["network"]), literal(f"{e['proto']}/{e['port']}"),
                   literal((_listed(dests, 4) + _uncertain(e.get("uncertain"), "destinations",
                                                          bool(dests))) or "-"))
    out.print(eg)


def _listed(items: list[str], limit: int) -> str:
    from nflens.analysis.partition import listed  # not at import: `nflens --help` stays light

    return listed(items, limit)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
