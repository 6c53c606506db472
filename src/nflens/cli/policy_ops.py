"""`nflens policy apply|confirm|rollback|status`: the commands that change a live host."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from nflens.cli.policy_options import ALLOW_MISSING, DIALECT, DOCKER_HOST, NETNS, STATE_DIR
from nflens.report.console import console


def apply(
    policy_file: Path = typer.Argument(..., help="policy file"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="resolve containers from "
                                         "this snapshot (rules are always read live)"),
    dialect: str | None = DIALECT,
    netns: str | None = NETNS,
    docker_host: str | None = DOCKER_HOST,
    state_dir: str | None = STATE_DIR,
    confirm_timeout: float = typer.Option(60, "--confirm-timeout", help="seconds until an "
                                          "unconfirmed apply rolls back (0: no timer)"),
    force: bool = typer.Option(False, "--force", help="apply even if the proof fails or the "
                               "change would cut this SSH session"),
    no_verify: bool = typer.Option(False, "--no-verify", help="skip the simulator proof"),
    ssh_connection: str | None = typer.Option(None, "--ssh-connection", envvar="SSH_CONNECTION",
                                              help="the session to protect (default: "
                                              "$SSH_CONNECTION)"),
    allow_missing: bool = ALLOW_MISSING,
) -> None:
    """Apply atomically with a backup; roll back after --confirm-timeout unless confirmed."""
    from nflens.policy.apply import apply_plan
    from nflens.policy.decide import Refused, decide
    from nflens.policy.live import host_for
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy
    from nflens.policy.state import state_dir as get_state_dir
    from nflens.report.policy import render_plan

    policy = load_policy(str(policy_file))
    host = host_for(snapshot, netns, docker_host, rules_live=True)
    plan = make_plan(policy, host, dialect, check=not no_verify, allow_missing=allow_missing)
    err = console(stderr=True)
    try:
        decision = decide(plan, ssh_connection, force)
    except Refused as exc:
        if exc.show_plan:
            render_plan(plan, err)
        raise
    if decision.show_plan:
        render_plan(plan, err)
    for w in decision.warnings:
        err.print(f"warning: {w}", markup=False)
    from nflens.policy.coexist import manager_notes

    for note in manager_notes(host):
        err.print(f"note: {note}", markup=False, soft_wrap=True)
    root = get_state_dir(state_dir)
    info = apply_plan(plan, root, netns, confirm_timeout, str(policy_file.resolve()))
    done = ", ".join(s["name"] for s in info["steps"])
    typer.echo(f"applied ({done}); backup in {info['backup']}")
    if confirm_timeout > 0:
        typer.echo(f"run `nflens policy confirm` within {confirm_timeout:g} s, or the previous "
                   "rules come back")


def confirm(state_dir: str | None = STATE_DIR) -> None:
    """Keep the last apply (stops its rollback timer)."""
    from nflens.policy.settle import confirm as do_confirm
    from nflens.policy.state import state_dir as get_state_dir

    typer.echo(do_confirm(get_state_dir(state_dir)))


def rollback(state_dir: str | None = STATE_DIR) -> None:
    """Roll back the unconfirmed apply now."""
    from nflens.policy.settle import rollback_pending
    from nflens.policy.state import state_dir as get_state_dir

    typer.echo(rollback_pending(get_state_dir(state_dir), wait=10))


def status(state_dir: str | None = STATE_DIR) -> None:
    """The pending apply (if any) and what happened last, as JSON."""
    from nflens.policy.state import read_json
    from nflens.policy.state import state_dir as get_state_dir

    root = get_state_dir(state_dir, create=False)
    out = {"pending": read_json(root / "pending.json"), "last": read_json(root / "last.json")}
    if out["pending"]:
        for step in out["pending"].get("steps", []):
            step.pop("before", None)  # the saved rules: in the backup directory
    sys.stdout.write(json.dumps(out, indent=1) + "\n")


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)
    app.command("confirm")(confirm)
    app.command("rollback")(rollback)
    app.command("status")(status)
