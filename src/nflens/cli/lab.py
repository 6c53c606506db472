"""`nflens lab list|run|down|cleanup`: rebuild a scenario on the real kernel and probe it (root)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

lab_app = typer.Typer(help="Scenarios on a real kernel and a real dockerd in network namespaces "
                      "(root).", no_args_is_help=True)


@lab_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="as JSON")) -> None:
    """Scenarios and their variants; also lab runs that are still up (kept or running)."""
    from nflens.lab import versions
    from nflens.lab.netns import list_runs
    from nflens.lab.scenarios import all_scenarios

    scs = all_scenarios()
    runs = list_runs()
    missing = versions.available()
    if as_json:
        data = {"docker": [{"key": k, "version": v.version, "origin": v.origin,
                            "available": not missing[k], "missing": missing[k] or None}
                           for k, v in versions.TESTED.items()],
                "scenarios": [{"name": s.name, "title": s.title,
                               "docker": [versions.get(k).version for k in s.dockers],
                               "variants": [{"name": v.name, "description": v.description}
                                            for v in s.variants],
                               "flows": [f.name for f in s.flows]} for s in scs],
                "runs": [{"id": r.id, "netns": r.netns, "keep": r.keep} for r in runs]}
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return
    for k, v in versions.TESTED.items():
        state = "ready" if not missing[k] else f"MISSING: {missing[k]}"
        typer.echo(f"--docker {k}: Docker {v.version}, {v.origin}: {state}")
    for s in scs:
        on = ", ".join(versions.get(k).version for k in s.dockers)
        typer.echo(f"{s.name}: {s.title} (Docker {on})")
        for var in s.variants:
            typer.echo(f"  --variant {var.name}: {var.description}")
    for r in runs:
        typer.echo(f"run {r.id} is up{' (kept)' if r.keep else ''}: {' '.join(r.netns)}")


@lab_app.command("run")
def run_cmd(
    scenario: str = typer.Argument(..., help="scenario name (or its seedNNN prefix)"),
    variant: str | None = typer.Option(None, "--variant", "-v", help="default: the first"),
    keep: bool = typer.Option(False, "--keep", help="leave it running; `nflens lab down ID`"),
    out: Path | None = typer.Option(None, "--out", help="write snapshot + flows + expected here"),
    rounds: int = typer.Option(2, "--rounds", help="probe every flow this many times"),
    docker: str = typer.Option("20", "--docker", help="the host's Docker version: 20 (20.10, "
                               "the machine's), 26 or 28 (`nflens lab versions --fetch`)"),
    as_json: bool = typer.Option(False, "--json", help="the outcome as JSON"),
) -> None:
    """Build the scenario, probe every flow twice, snapshot it and compare with the simulator."""
    from nflens.lab import run as lab_run
    from nflens.lab import versions
    from nflens.lab.scenarios import load

    key = versions.get(docker).key  # an unknown version is refused before anything else
    _need_root()
    sc = load(scenario)
    report = lab_run.run(sc, variant, out=out, keep=keep, rounds=rounds, log=_echo_err,
                         docker=key)
    if as_json:
        sys.stdout.write(json.dumps(_report_json(report), indent=1) + "\n")
    else:
        _print_report(report)
    disagree = report.verdicts and any(report.verdicts.get(o.name) not in (None, o.outcome)
                                       for o in report.outcomes)
    raise typer.Exit(1 if disagree else 0)


def _report_json(report) -> dict:
    return {"scenario": report.scenario, "variant": report.variant, "docker": report.docker,
            "id": report.run_id,
            "kept": report.kept, "out": str(report.out_dir) if report.out_dir else None,
            "timings": report.timings,
            "flows": [{"name": o.name, "kernel": o.outcome, "flaky": o.flaky,
                       "simulator": (report.verdicts or {}).get(o.name),
                       "rounds": [r.token or r.detail for r in o.rounds]}
                      for o in report.outcomes]}


def _print_report(report) -> None:
    typer.echo(f"{report.scenario} / {report.variant} on Docker {report.docker} "
               f"(lab {report.run_id})")
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


@lab_app.command("versions")
def versions_cmd(fetch: bool = typer.Option(False, "--fetch", help="fetch the missing ones "
                                            "(root; private apt configuration, nothing installed)"),
                 as_json: bool = typer.Option(False, "--json", help="as JSON")) -> None:
    """The Docker versions the lab runs and whether each is ready here (exit 1: one is missing)."""
    from nflens.lab import versions

    if fetch:
        missing = versions.fetch_all(log=lambda m: typer.echo(m, err=True))
    else:
        missing = versions.available()
    rows: list[dict[str, Any]] = []
    for k, v in versions.TESTED.items():
        packages: dict[str, str] = {}
        if not missing[k]:
            packages = versions.provide(k).packages
        rows.append({"key": k, "version": v.version, "origin": v.origin,
                     "dir": None if v.system else str(versions.version_dir(v)),
                     "packages": packages, "missing": missing[k] or None})
    if as_json:
        sys.stdout.write(json.dumps({"docker": rows}, indent=1) + "\n")
    else:
        for r in rows:
            state = f"MISSING: {r['missing']}" if r["missing"] else "ready " + ", ".join(
                f"{p} {ver}" for p, ver in r["packages"].items())
            typer.echo(f"--docker {r['key']}: Docker {r['version']}: {state}")
    raise typer.Exit(1 if any(missing.values()) else 0)


@lab_app.command("matrix")
def matrix_cmd(
    out: Path = typer.Option(Path("build/lab-matrix"), "--out", help="fixture root to write "
                             "(tests/fixtures/lab to regenerate the committed fixtures)"),
    docker: list[str] = typer.Option(None, "--docker", help="versions (default: all)"),
    scenario: list[str] = typer.Option(None, "--scenario", help="scenarios (default: all)"),
    jobs: int = typer.Option(2, "--jobs", "-j", help="lab runs at once"),
    workers: int | None = typer.Option(None, "--workers", hidden=True,
                                       help="the same as --jobs (fleet's name for it)"),
    committed: Path = typer.Option(Path("tests/fixtures/lab"), "--committed",
                                   help="fixtures whose kernel outcomes the new runs must repeat"),
    as_json: bool = typer.Option(False, "--json", help="the outcome as JSON"),
) -> None:
    """Every scenario variant on every Docker version: probe, snapshot, compare with the
    simulator and with the committed fixtures. Exit 1 when a version is missing, a run failed,
    the simulator disagreed or the kernel's outcome moved."""
    from nflens.lab import matrix, versions

    jobs = workers if workers is not None else jobs  # the hidden alias (issue 29.15)
    keys = [versions.get(k).key for k in docker] if docker else list(versions.KEYS)
    _need_root()
    missing = {k: why for k, why in versions.available().items() if why and k in keys}
    for why in missing.values():
        typer.echo(f"skipped: {why}", err=True)

    def progress(cell):
        state = cell.error or (f"{len(cell.flows) - len(cell.disagree)}/{len(cell.flows)} agree"
                               + (f" (differs: {', '.join(cell.disagree)})" if cell.disagree
                                  else ""))
        typer.echo(f"docker {cell.key} {cell.name}: {state} [{cell.seconds}s]", err=True)

    done = matrix.run_matrix(out, [k for k in keys if k not in missing], scenario or None, jobs,
                             progress)
    rows = matrix.summary(done, committed if committed.is_dir() else None)
    if as_json:
        sys.stdout.write(json.dumps({"docker": rows, "missing": missing}, indent=1) + "\n")
    else:
        for r in rows:
            typer.echo(f"Docker {r['docker']}: {r['variants']} variants, {r['probes']} probes, "
                       f"{r['agree']} agree, {len(r['errors'])} runs failed [{r['seconds']}s]")
            for line in r["errors"] + [f"differs: {d}" for d in r["disagree"]] + [
                    f"kernel moved from the committed fixture: {d}" for d in r["drift"]]:
                typer.echo(f"  {line}")
    bad = missing or any(r["errors"] or r["disagree"] or r["drift"] for r in rows)
    raise typer.Exit(1 if bad else 0)


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
    as_json: bool = typer.Option(False, "--json", help="the outcome as JSON"),
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
            "unknowable": report.unknowable, "unknowable_cases": report.unknowable_cases,
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


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
