"""`nflens policy plan` and the `policy` command group.

The group's other commands live in policy_ops.py (apply, confirm, rollback, status) and
policy_persist.py (persist, watch); cli/main.py registers all of them on `policy_app`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from nflens.cli import gate
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
    fail_on: str | None = gate.FAIL_ON,
    baseline: Path | None = gate.BASELINE,
) -> None:
    """Compile, diff against the rules there, and prove on the simulator; exit 1 when a
    statement does not hold or a flow no statement speaks about changes verdict. With
    --fail-on or --baseline, also audit the host as the policy leaves it: exit 1 when a
    finding of that severity or worse is left there."""
    from nflens.policy.live import host_for
    from nflens.policy.plan import make_plan
    from nflens.policy.schema import load_policy
    from nflens.report.policy import plan_json, render_plan

    accepted = gate.read_baseline(baseline)
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
    after = _audit_after(result, accepted) if fail_on or accepted is not None else None
    if as_json:
        doc = plan_json(result)
        if after is not None:
            doc["findings"] = after["findings"]
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        render_plan(result, console(), show_payload)
        if after is not None:
            _render_after(after)
    if not result.ok:
        raise typer.Exit(1)
    gate.exit_on(after["findings"] if after is not None else [], fail_on)


def _audit_after(plan, accepted) -> dict:
    """The audit of the host as the plan leaves it (the simulator's view of it applied), with
    the baseline's accepted findings left out."""
    from nflens.analysis.audit import audit

    result = audit(plan.after)
    gate.apply_baseline(result, accepted)
    return result


def _render_after(after: dict) -> None:
    from nflens.report.findings_text import render_findings

    out = console()
    out.rule("Audit of the host with the policy applied")
    render_findings(after["findings"], out)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
