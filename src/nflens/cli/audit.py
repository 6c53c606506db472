"""`nflens audit` (CONTRACT §4): exposure of every published port and host socket, and the
findings with their fixes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def audit(
    snapshot: Path = typer.Option(..., "--snapshot", help="snapshot directory or .tar.gz"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    no_verify: bool = typer.Option(False, "--no-verify",
                                   help="do not re-analyse each fix on the fixed snapshot"),
) -> None:
    """Who can reach what, what is wrong, and how to fix it (each fix verified)."""
    from nflens.analysis.audit import audit as run_audit
    from nflens.snapshot.archive import read_host

    host = read_host(snapshot)
    result = run_audit(host, verify=not no_verify)
    if html is not None:
        _write_html(host, result, html)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
        return
    render(result, Console())


def _write_html(host, result, path: Path) -> None:
    from nflens.report.html import write_page
    from nflens.report.html.audit_html import render_audit_html

    write_page(path, render_audit_html(host, result))
    typer.echo(f"wrote {path}", err=True)


def render(result: dict, console: Console) -> None:
    table = Table(title="Exposure: who can open a connection", show_lines=False)
    for col in ("port", "target", "interface", "sources"):
        table.add_column(col)
    for e in result["exposure"]:
        target = e["target"]
        what = (f"{target['container']}:{target['port']}" if "container" in target
                else target.get("process", "?"))
        for i, r in enumerate(e["reachable_from"]):
            srcs = r.get("readable", r["sources"])
            shown = ", ".join(srcs[:4]) + (f" (+{len(srcs) - 4})" if len(srcs) > 4 else "")
            if r.get("uncertain"):
                shown += f"  uncertain: {', '.join(r['uncertain']['sources'][:2])}"
            table.add_row(f"{e['proto']}/{e['host_addr']}:{e['host_port']}" if i == 0 else "",
                          what if i == 0 else "", r["iface"], shown or "-")
    console.print(table)
    if result.get("egress"):
        eg = Table(title="Egress: where each Docker network can open connections")
        for col in ("network", "service", "destinations"):
            eg.add_column(col)
        for e in result["egress"]:
            dests = e["destinations"]
            eg.add_row(e["network"], f"{e['proto']}/{e['port']}",
                       (", ".join(dests[:4]) + (f" (+{len(dests) - 4})" if len(dests) > 4
                                                else "")) or "-")
        console.print(eg)
    findings = result["findings"]
    console.print(f"\n[bold]{len(findings)} finding(s)[/bold]")
    for n, f in enumerate(findings, 1):
        style = SEVERITY_STYLE.get(f["severity"], "")
        console.print(f"\n{n}. [{style}]{f['severity'].upper()}[/{style}] {f['title']} "
                      f"[dim]({f['id']}: {f['subject']})[/dim]")
        console.print(f"   {f['explanation']}", highlight=False)
        for r in f["rules"]:
            line = Text(f"   rule {r['file']}:{r['line']}  {r['text']}")
            if r.get("owner"):
                tail = " — ".join(x for x in (r.get("owner_says"), r.get("owner_config")) if x)
                line.append(f"  ({r['owner']}{': ' + tail if tail else ''})", style="dim")
            console.print(line, highlight=False)
        if f["fix"]:
            console.print("   fix:")
            for line in f["fix"].splitlines():
                console.print(f"     {line}", highlight=False, markup=False)
        if f["fix_verified"] is not None:
            mark = "verified" if f["fix_verified"] else "NOT verified"
            console.print(f"   [dim]{mark}: {f['verification']}[/dim]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
