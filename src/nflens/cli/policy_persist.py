"""`nflens policy persist|watch`: keep the policy in force across boots, Docker restarts and
container changes."""

from __future__ import annotations

from pathlib import Path

import typer

from nflens.cli.policy_options import DOCKER_HOST, NETNS, STATE_DIR


def persist(
    policy_file: Path = typer.Argument(..., help="policy file (referenced by absolute path)"),
    unit_dir: Path = typer.Option(Path("/etc/systemd/system"), "--unit-dir",
                                  help="where the unit is written"),
    state_dir: str | None = STATE_DIR,
    docker_host: str | None = DOCKER_HOST,
) -> None:
    """Write nflens-policy.service (After/PartOf/WantedBy docker.service)."""
    from nflens.policy.persist import UNIT_NAME, write_unit
    from nflens.policy.schema import load_policy
    from nflens.policy.state import state_dir as get_state_dir

    load_policy(str(policy_file))  # a broken policy must not reach the boot path
    path = write_unit(policy_file, unit_dir, get_state_dir(state_dir), docker_host=docker_host)
    typer.echo(f"wrote {path}\nenable it with: systemctl daemon-reload && "
               f"systemctl enable --now {UNIT_NAME}")


def watch(
    policy_file: Path = typer.Argument(..., help="policy file"),
    netns: str | None = NETNS,
    docker_host: str | None = DOCKER_HOST,
    state_dir: str | None = STATE_DIR,
    quiet: float = typer.Option(2.0, "--debounce", help="seconds of quiet before re-applying"),
) -> None:
    """Re-apply whenever containers start/stop or join/leave networks, and when Docker comes
    back after a restart (debounced). SIGTERM/SIGINT stop it after the apply under way."""
    import signal

    from nflens.extras import require
    from nflens.policy import watch as w
    from nflens.policy.persist import apply_argv
    from nflens.proc import LOCAL

    require("live", "policy watch (Docker's event stream)")

    argv = apply_argv(policy_file, docker_host=docker_host)
    argv += ((["--netns", netns] if netns else [])
             + (["--state-dir", state_dir] if state_dir else []))

    def reapply(burst) -> None:
        proc = LOCAL.run(argv, timeout=600)
        what = ", ".join(sorted({f"{e.get('Type')} {e.get('Action')}" for e in burst}))
        typer.echo(f"{len(burst)} events ({what}): "
                   + (proc.stdout.strip().splitlines() or ["?"])[0] if proc.returncode == 0
                   else f"re-apply failed: {(proc.error or proc.stderr).strip()}")

    stopping: list[int] = []

    def on_signal(signum, frame) -> None:
        stopping.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    reapply([])
    w.run(w.follow(w.docker_connect(docker_host), stop=lambda: bool(stopping),
                   log=lambda msg: typer.echo(msg, err=True)),
          reapply, quiet=quiet, stop=lambda: bool(stopping))
    typer.echo("watch stopped")


def register(app: typer.Typer) -> None:
    app.command("persist")(persist)
    app.command("watch")(watch)
