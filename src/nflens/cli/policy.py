"""`nflens policy plan|apply|confirm|rollback|status|persist|watch` (issue 6)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

policy_app = typer.Typer(help="Declarative firewall policy: plan, apply, confirm, persist, watch.",
                         no_args_is_help=True)

DIALECT = typer.Option(None, "--dialect", help="iptables or nft (default: the host's)")
NETNS = typer.Option(None, "--netns", help="act in this network namespace (/run/netns/NAME)")
DOCKER_HOST = typer.Option(None, "--docker-host", envvar="NFLENS_DOCKER_HOST",
                           help="Docker API address (unix:///run/docker.sock)")
STATE_DIR = typer.Option(None, "--state-dir", envvar="NFLENS_STATE_DIR",
                         help="backups, lock and pending apply (default /var/lib/nflens)")


@policy_app.command("plan")
def plan(
    policy_file: Path = typer.Argument(..., help="policy file (YAML, or TOML by suffix)"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="snapshot directory "
                                         "(default: collect from the live host)"),
    dialect: str | None = DIALECT,
    netns: str | None = NETNS,
    docker_host: str | None = DOCKER_HOST,
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    show_payload: bool = typer.Option(False, "--payload", help="print the transactions too"),
) -> None:
    """Compile, diff against the rules there, and prove on the simulator; exit 1 when a
    statement does not hold or a flow no statement speaks about changes verdict."""
    from nflens.policy.live import host_for
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy
    from nflens.report.policy import plan_json, render_plan

    policy = load_policy(str(policy_file))
    host = host_for(snapshot, netns, docker_host, rules_live=False)
    console = Console(stderr=True)
    if console.is_terminal:  # a bar per probe proved, as `check` has (not on a pipe)
        from rich.progress import Progress

        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("proving the plan on the simulator", total=None)
            result = make_plan(policy, host, dialect, progress=lambda done, total: bar.update(
                task, completed=done, total=total))
    else:
        result = make_plan(policy, host, dialect)
    if as_json:
        sys.stdout.write(json.dumps(plan_json(result), indent=1) + "\n")
    else:
        render_plan(result, Console(), show_payload)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    from nflens.cli import policy_ops

    policy_ops.register(policy_app)
    app.add_typer(policy_app, name="policy")
