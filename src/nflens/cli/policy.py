"""`nflens policy plan` and the `policy` command group.

The group's other commands live in policy_ops.py (apply, confirm, rollback, status) and
policy_persist.py (persist, watch); cli/main.py registers all of them on `policy_app`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from nflens.cli.policy_options import ALLOW_MISSING, DIALECT, DOCKER_HOST, NETNS
from nflens.report.console import console

policy_app = typer.Typer(help="Declarative firewall policy: plan, apply, confirm, persist, watch.",
                         no_args_is_help=True)


@policy_app.command("plan")
def plan(
    policy_file: Path = typer.Argument(..., help="policy file (YAML, or TOML by suffix)"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="snapshot directory or .tar.gz "
                                         "(default: collect from the live host)"),
    dialect: str | None = DIALECT,
    netns: str | None = NETNS,
    docker_host: str | None = DOCKER_HOST,
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    show_payload: bool = typer.Option(False, "--payload", help="print the transactions too"),
    allow_missing: bool = ALLOW_MISSING,
) -> None:
    """Compile, diff against the rules there, and prove on the simulator; exit 1 when a
    statement does not hold or a flow no statement speaks about changes verdict."""
    from nflens.policy.live import host_for
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy
    from nflens.report.policy import plan_json, render_plan

    policy = load_policy(str(policy_file))
    host = host_for(snapshot, netns, docker_host, rules_live=False)
    err = console(stderr=True)
    if err.is_terminal:  # a bar per probe proved, as `check` has (not on a pipe)
        from rich.progress import Progress

        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("proving the plan on the simulator", total=None)
            result = make_plan(policy, host, dialect, allow_missing=allow_missing,
                               progress=lambda done, total: bar.update(
                                   task, completed=done, total=total))
    else:
        result = make_plan(policy, host, dialect, allow_missing=allow_missing)
    if as_json:
        sys.stdout.write(json.dumps(plan_json(result), indent=1) + "\n")
    else:
        render_plan(result, console(), show_payload)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
