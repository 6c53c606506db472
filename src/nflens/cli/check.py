"""`nflens check` and `nflens trace` (CONTRACT §4)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from nflens.flows import check_origin, load_flows, parse_from, parse_to
from nflens.ir.packet import Flow
from nflens.report.console import console


def _simulator(snapshot: Path):
    from nflens.kernel.simulate import Simulator
    from nflens.snapshot.archive import read_host

    return Simulator(read_host(snapshot))


def check(
    flows_file: Path = typer.Argument(..., help="flows file (JSON or YAML, CONTRACT §3)"),
    snapshot: Path = typer.Option(..., "--snapshot", help="snapshot directory or .tar.gz"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """Every flow's verdict; exit 1 when an `expect` does not hold."""
    sim = _simulator(snapshot)
    flows = load_flows(flows_file)
    for flow in flows:
        check_origin(sim.host, flow.origin, f"{flows_file}: flow {flow.name!r}")
    results = []
    err = Console(stderr=True)
    show = not as_json and err.is_terminal and len(flows) > 20
    with Progress(console=err, transient=True, disable=not show) as progress:
        task = progress.add_task("simulating flows", total=len(flows))
        for flow in flows:
            results.append(sim.run(flow))
            progress.advance(task)
    from nflens.analysis.owners import RuleOwners, annotate_result

    owners = RuleOwners(sim.host)
    if as_json:
        doc = {"results": [annotate_result(r.to_json(), owners) for r in results]}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        from nflens.report.text import render_check

        render_check(results, console(), owners)
    if not all(r.holds for r in results):
        raise typer.Exit(1)


def trace(
    snapshot: Path = typer.Option(..., "--snapshot", help="snapshot directory or .tar.gz"),
    src: str = typer.Option(..., "--from", help="IFACE:ADDR, container:NAME or host"),
    dst: str = typer.Option(..., "--to", help="ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6)"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    as_json: bool = typer.Option(False, "--json", help="the check result object as JSON"),
    brief: bool = typer.Option(False, "--brief", help="hide rules that did not match"),
) -> None:
    """One flow, phase by phase, both directions, like a packet tracer."""
    origin = parse_from(src)
    addr, port, proto = parse_to(dst)
    flow = Flow(f"{src} -> {dst}", origin, addr, port, proto)
    sim = _simulator(snapshot)
    check_origin(sim.host, origin, f"--from {src!r}")
    result = sim.run(flow)
    from nflens.kernel.whatif import what_would_change

    change = what_would_change(sim.host, flow, result)
    if html is not None:
        from nflens.report.html import write_trace_html

        write_trace_html(result, html, host=sim.host, change=change)
        typer.echo(f"wrote {html}", err=True)
    from nflens.analysis.owners import RuleOwners, annotate_result

    owners = RuleOwners(sim.host)
    if as_json:
        out = annotate_result(result.to_json(), owners)
        if change is not None:
            desc, after = change
            out["what_would_change"] = {"change": desc, "verdict": after.verdict,
                                        "reason": after.reason}
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return
    from nflens.report.text import render_trace, render_what_if

    out = console()
    render_trace(result, out, verbose=not brief, owners=owners)
    if change is not None:
        render_what_if(change, out)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("trace")(trace)
