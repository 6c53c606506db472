"""`nflens check` and `nflens trace` (CONTRACT §4)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from nflens.ir.packet import Flow



def _simulator(snapshot: Path):
    from nflens.kernel.simulate import Simulator
    from nflens.snapshot.read import read_snapshot

    return Simulator(read_snapshot(snapshot))


def check(
    flows_file: Path = typer.Argument(..., help="flows file (JSON or YAML, CONTRACT §3)"),
    snapshot: Path = typer.Option(..., "--snapshot", help="snapshot directory"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """Every flow's verdict; exit 1 when an `expect` does not hold."""
    sim = _simulator(snapshot)
    from nflens.flows import load_flows

    flows = load_flows(flows_file)
    if as_json:
        holds = write_results_json(sim, flows, sys.stdout)
    else:
        console = Console(stderr=True)
        results = []
        show = console.is_terminal and len(flows) > 20
        from rich.progress import Progress

        with Progress(console=console, transient=True, disable=not show) as progress:
            task = progress.add_task("simulating flows", total=len(flows))
            for flow in flows:
                results.append(sim.run(flow))
                progress.advance(task)
        from nflens.report.text import render_check

        render_check(results, Console())
        holds = all(r.holds for r in results)
    if not holds:
        raise typer.Exit(1)


def write_results_json(sim, flows: list[Flow], out: IO[str]) -> bool:
    """`{"results": [...]}` written one result at a time, as each flow is simulated: nothing
    is kept (thousands of flows with their full paths would be held twice, as objects and as
    one big string), and the C encoder writes each result on one line (an indenting encoder
    is pure Python: it was ~40 % of `check --json` on a 400-container host). Returns whether
    every `expect` held."""
    encode = json.JSONEncoder(ensure_ascii=True, check_circular=False).encode
    holds = True
    out.write('{"results": [')
    for n, flow in enumerate(flows):
        result = sim.run(flow)
        holds = holds and result.holds
        out.write(("\n" if n == 0 else ",\n") + encode(result.to_json()))
    out.write("\n]}\n" if flows else "]}\n")
    return holds


def trace(
    snapshot: Path = typer.Option(..., "--snapshot", help="snapshot directory"),
    src: str = typer.Option(..., "--from", help="IFACE:ADDR, container:NAME or host"),
    dst: str = typer.Option(..., "--to", help="ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6)"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    as_json: bool = typer.Option(False, "--json", help="the check result object as JSON"),
    brief: bool = typer.Option(False, "--brief", help="hide rules that did not match"),
) -> None:
    """One flow, phase by phase, both directions, like a packet tracer."""
    from nflens.flows import parse_from, parse_to
    from nflens.ir.packet import Flow

    origin = parse_from(src)
    addr, port, proto = parse_to(dst)
    flow = Flow(f"{src} -> {dst}", origin, addr, port, proto)
    sim = _simulator(snapshot)
    result = sim.run(flow)
    from nflens.kernel.whatif import what_would_change

    change = what_would_change(sim.host, flow, result)
    if html is not None:
        try:
            from nflens.report.html import write_trace_html
        except ImportError:
            typer.echo("HTML reports are not available yet", err=True)
        else:
            write_trace_html(result, html, host=sim.host, change=change)
            typer.echo(f"wrote {html}", err=True)
    if as_json:
        out = result.to_json()
        if change is not None:
            desc, after = change
            out["what_would_change"] = {"change": desc, "verdict": after.verdict,
                                        "reason": after.reason}
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return
    from nflens.report.text import render_trace, render_what_if

    console = Console()
    render_trace(result, console, verbose=not brief)
    if change is not None:
        render_what_if(change, console)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("trace")(trace)
