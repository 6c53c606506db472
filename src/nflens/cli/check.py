"""`nflens check` and `nflens trace` (CONTRACT §4). Imports are inside the commands: `nflens
--help` must not load parsers, the kernel or a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer

from nflens.cli.source import LIVE, SNAPSHOT, host_of

if TYPE_CHECKING:
    from nflens.analysis.owners import RuleOwners
    from nflens.ir.packet import Flow


def _simulator(snapshot: Path | None, live: bool, command: str):
    from nflens.kernel.simulate import Simulator

    return Simulator(host_of(snapshot, live, command))


def check(
    flows_file: Path = typer.Argument(..., help="flows file, JSON or YAML (README: Flows file)"),
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    live: bool = LIVE,
) -> None:
    """Every flow's verdict; exit 1 when an `expect` does not hold."""
    from nflens.analysis.owners import RuleOwners
    from nflens.flows import load_flows

    flows = load_flows(flows_file)  # a typo in the flows is reported before any collection
    sim = _simulator(snapshot, live, "check")
    _validate(sim, flows, flows_file)
    owners = RuleOwners(sim.host)
    if as_json:
        holds = write_results_json(sim, flows, sys.stdout, owners)
    else:
        from rich.console import Console
        from rich.progress import Progress

        from nflens.report.console import console
        from nflens.report.text import render_check

        err = Console(stderr=True)
        results = []
        show = err.is_terminal and len(flows) > 20
        with Progress(console=err, transient=True, disable=not show) as progress:
            task = progress.add_task("simulating flows", total=len(flows))
            for flow in flows:
                results.append(sim.run(flow))
                progress.advance(task)
        render_check(results, console(), owners)
        holds = all(r.holds for r in results)
    if not holds:
        raise typer.Exit(1)


def _validate(sim, flows: list[Flow], flows_file: Path) -> None:
    """Every flow is refused or accepted before the first result is written: a bad flow found
    half-way through made `check --json` exit 2 with half a JSON document on stdout."""
    from nflens.errors import AmbiguousReference, FlowError
    from nflens.flows import check_origin

    for flow in flows:
        what = f"flow {flow.name!r}"
        check_origin(sim.host, flow.origin, f"{flows_file}: {what}")
        try:
            sim.validate(flow)
        except (FlowError, AmbiguousReference) as exc:
            why = str(exc).removeprefix(f"{what}: ")  # the simulator's own may name the flow
            raise FlowError(f"{flows_file}: {what}: {why}") from None


def write_results_json(sim, flows: list[Flow], out: IO[str],
                       owners: RuleOwners | None = None) -> bool:
    """`{"results": [...]}` written one result at a time, as each flow is simulated: nothing
    is kept (thousands of flows with their full paths would be held twice, as objects and as
    one big string), and the C encoder writes each result on one line (an indenting encoder
    is pure Python: it was ~40 % of `check --json` on a 400-container host). Each rule names
    its owner when `owners` is given. Returns whether every `expect` held."""
    from nflens.analysis.owners import annotate_result

    encode = json.JSONEncoder(ensure_ascii=True, check_circular=False).encode
    holds = True
    out.write('{"results": [')
    for n, flow in enumerate(flows):
        result = sim.run(flow)
        holds = holds and result.holds
        doc = result.to_json()
        if owners is not None:
            annotate_result(doc, owners)
        out.write(("\n" if n == 0 else ",\n") + encode(doc))
    out.write("\n]}\n" if flows else "]}\n")
    return holds


def trace(
    snapshot: Path | None = SNAPSHOT,
    src: str = typer.Option(..., "--from", help="IFACE:ADDR, container:NAME, host, or ADDR "
                            "(its interface inferred from the routes)"),
    dst: str = typer.Option(..., "--to", help="ADDR:PORT/PROTO ([ADDR]:PORT/PROTO for IPv6, "
                            "ADDR/icmp); ADDR may be a container's name"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML page"),
    as_json: bool = typer.Option(False, "--json", help="the check result object as JSON"),
    brief: bool = typer.Option(False, "--brief", help="hide rules that did not match"),
    live: bool = LIVE,
) -> None:
    """One flow, phase by phase, both directions, like a packet tracer."""
    from nflens.analysis.owners import RuleOwners, annotate_result
    from nflens.cli.endpoints import trace_endpoints
    from nflens.flows import check_origin
    from nflens.ir.packet import Flow
    from nflens.kernel.whatif import what_would_change

    sim = _simulator(snapshot, live, "trace")
    origin, addr, port, proto = trace_endpoints(src, dst, sim.host, sim.model.route)
    flow = Flow(f"{src} -> {dst}", origin, addr, port, proto).unzoned()
    check_origin(sim.host, origin, f"--from {src!r}")
    result = sim.run(flow)
    change = what_would_change(sim.host, flow, result)
    if html is not None:
        from nflens.report.html import write_trace_html

        write_trace_html(result, html, host=sim.host, change=change)
        typer.echo(f"wrote {html}", err=True)
    owners = RuleOwners(sim.host)
    if as_json:
        out = annotate_result(result.to_json(), owners)
        if change is not None:
            desc, after = change
            out["what_would_change"] = {"change": desc, "verdict": after.verdict,
                                        "reason": after.reason}
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return
    from nflens.report.console import console
    from nflens.report.text import render_trace, render_what_if

    text = console()
    render_trace(result, text, verbose=not brief, owners=owners)
    if change is not None:
        render_what_if(change, text)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("trace")(trace)
