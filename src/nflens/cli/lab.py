"""`nflens lab list|run|down|cleanup`: rebuild a scenario on the real kernel and probe it (root)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

lab_app = typer.Typer(help="Scenarios on a real kernel and a real dockerd in network namespaces "
                      "(root).", no_args_is_help=True)


@lab_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Scenarios and their variants; also lab runs that are still up (kept or running)."""
    from nflens.lab.netns import list_runs
    from nflens.lab.scenarios import all_scenarios

    scs = all_scenarios()
    runs = list_runs()
    if as_json:
        data = {"scenarios": [{"name": s.name, "title": s.title,
                               "variants": [{"name": v.name, "description": v.description}
                                            for v in s.variants],
                               "flows": [f.name for f in s.flows]} for s in scs],
                "runs": [{"id": r.id, "netns": r.netns, "keep": r.keep} for r in runs]}
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return
    for s in scs:
        typer.echo(f"{s.name}: {s.title}")
        for v in s.variants:
            typer.echo(f"  --variant {v.name}: {v.description}")
    for r in runs:
        typer.echo(f"run {r.id} is up{' (kept)' if r.keep else ''}: {' '.join(r.netns)}")


@lab_app.command("run")
def run_cmd(
    scenario: str = typer.Argument(..., help="scenario name (or its seedNNN prefix)"),
    variant: str | None = typer.Option(None, "--variant", "-v", help="default: the first"),
    keep: bool = typer.Option(False, "--keep", help="leave it running; `nflens lab down ID`"),
    out: Path | None = typer.Option(None, "--out", help="write snapshot + flows + expected here"),
    rounds: int = typer.Option(2, "--rounds", help="probe every flow this many times"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Build the scenario, probe every flow twice, snapshot it and compare with the simulator."""
    from nflens.lab import run as lab_run
    from nflens.lab.scenarios import load

    _need_root()
    sc = load(scenario)

    def log(m: str) -> None:
        typer.echo(m, err=True)

    report = lab_run.run(sc, variant, out=out, keep=keep, rounds=rounds, log=log)
    if as_json:
        sys.stdout.write(json.dumps(_report_json(report), indent=1) + "\n")
    else:
        _print_report(report)
    disagree = report.verdicts and any(report.verdicts.get(o.name) not in (None, o.outcome)
                                       for o in report.outcomes)
    raise typer.Exit(1 if disagree else 0)


def _report_json(report) -> dict:
    return {"scenario": report.scenario, "variant": report.variant, "id": report.run_id,
            "kept": report.kept, "out": str(report.out_dir) if report.out_dir else None,
            "timings": report.timings,
            "flows": [{"name": o.name, "kernel": o.outcome, "flaky": o.flaky,
                       "simulator": (report.verdicts or {}).get(o.name),
                       "rounds": [r.token or r.detail for r in o.rounds]}
                      for o in report.outcomes]}


def _print_report(report) -> None:
    typer.echo(f"{report.scenario} / {report.variant} (lab {report.run_id})")
    sim = report.verdicts is not None
    typer.echo(f"  {'flow':24} {'kernel':8} {'simulator':10} detail" if sim
               else f"  {'flow':24} {'kernel':8} detail  (no simulator checker available)")
    for o in report.outcomes:
        detail = " | ".join(r.token or r.detail for r in o.rounds)
        flaky = " FLAKY" if o.flaky else ""
        if sim:
            v = report.verdicts.get(o.name, "-")
            mark = "" if v == o.outcome else "  <-- differs"
            typer.echo(f"  {o.name:24} {o.outcome:8} {v:10} {detail}{flaky}{mark}")
        else:
            typer.echo(f"  {o.name:24} {o.outcome:8} {detail}{flaky}")
    typer.echo("  timings: " + ", ".join(f"{k} {v}s" for k, v in report.timings.items()))
    if report.out_dir:
        typer.echo(f"  written to {report.out_dir}")
    if report.kept:
        typer.echo(f"  kept: `nflens lab down {report.run_id}` removes it "
                   f"(docker -H unix:///run/nflens-lab/{report.run_id}/docker.sock)")


@lab_app.command("down")
def down_cmd(run_id: str = typer.Argument(..., help="the lab id `lab run --keep` printed")) -> None:
    """Tear down a kept (or orphaned) lab run."""
    from nflens.lab.netns import down

    _need_root()
    problems = down(run_id)
    for p in problems:
        typer.echo(f"left behind: {p}", err=True)
    raise typer.Exit(1 if problems else 0)


@lab_app.command("fuzz")
def fuzz_cmd(
    cases: int = typer.Option(200, "--cases", "-n", help="how many random rulesets"),
    seed: int = typer.Option(None, "--seed", help="default: a random one (printed)"),
    start: int = typer.Option(0, "--start", help="first case index (replay one case)"),
    flows: int = typer.Option(8, "--flows", help="flows probed per case"),
    save: Path = typer.Option(Path("tests/fixtures/fuzz"), "--save",
                              help="where disagreements are written as regression fixtures"),
    record: bool = typer.Option(False, "--record", help="save every case, agreeing or not"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Differential fuzzing: random iptables/nft rulesets on a real router namespace, real
    TCP/UDP flows, the simulator's verdicts compared with the kernel's. Exit 1 on any
    disagreement (each one saved under --save)."""
    import random

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from nflens.lab.fuzz import run_fuzz

    _need_root()
    seed = random.SystemRandom().randrange(1, 10**6) if seed is None else seed
    with Progress(TextColumn(f"fuzz seed {seed}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("fuzz", total=cases, status="")

        def progress(done, report):
            bar.update(task, completed=done,
                       status=f"{report.agreed}/{report.flows} agree, "
                              f"{len(report.disagreements)} cases disagree")

        report = run_fuzz(cases, seed, save, start=start, flows_per_case=flows,
                          progress=progress, record=record)
    if as_json:
        sys.stdout.write(json.dumps({
            "seed": report.seed, "cases": report.cases, "flows": report.flows,
            "agreed": report.agreed, "invalid": report.invalid,
            "disagreements": report.disagreements, "notes": report.notes,
            "kernel_outcomes": dict(report.verdicts), "seconds": round(report.seconds, 1)},
            indent=1) + "\n")
    else:
        typer.echo(report.summary())
        for note in report.notes:
            typer.echo(f"  {note}")
        for d in report.disagreements:
            typer.echo(f"  disagreement kept: {d}")
    raise typer.Exit(0 if report.ok else 1)


@lab_app.command("cleanup")
def cleanup_cmd() -> None:
    """Remove what killed lab runs left behind (namespaces, dockerd, mounts, cgroups)."""
    from nflens.lab.netns import cleanup_stale

    _need_root()
    cleaned = cleanup_stale()
    typer.echo(f"cleaned {len(cleaned)} stale run(s)" + (f": {' '.join(cleaned)}" if cleaned
                                                        else ""))


def _need_root() -> None:
    """Root, and the `lab` extra (pyroute2, the Docker SDK): checked before anything starts."""
    import os

    from nflens.errors import ToolError
    from nflens.extras import require

    if os.geteuid() != 0:
        raise ToolError("the lab needs root (network namespaces, dockerd)")
    require("lab", "the lab")


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
