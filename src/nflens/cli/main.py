"""`nflens` entry point: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from nflens.errors import NflensError
from nflens.literal import bounded, printable

app = typer.Typer(
    name="nflens",
    help="What Docker and the Linux host firewall really do to a packet.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion SHELL (Typer's)
    pretty_exceptions_enable=False,
    # `-h` too, on every command: click's sub-contexts inherit help_option_names (issue 29.10)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from nflens import __version__

        typer.echo(f"nflens {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """What Docker and the Linux host firewall really do to a packet."""


# Each module registers its commands on `app` (register(app)); the `policy` group's commands
# live in three modules, registered here so that none of them imports another.
COMMAND_MODULES = ("rules", "snapshot", "check", "lab", "audit", "matrix", "policy", "fleet",
                   "diff")
POLICY_MODULES = ("policy_ops", "policy_persist")


_registered = False


def _register() -> None:
    """Add every command group to `app`, once: main() called again in one process (the
    in-process CLI tests, the mutation fuzz) must not register each command again — the
    duplicates made every later call slower."""
    global _registered
    if _registered:
        return
    _registered = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"nflens.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"nflens.cli.{name}":
                continue  # command group not built yet
            raise
        module.register(app)
    from nflens.cli.policy import policy_app

    for name in POLICY_MODULES:
        importlib.import_module(f"nflens.cli.{name}").register(policy_app)


_click_command = None


def _command():
    """The click command Typer builds from `app`, built once per process (Typer rebuilds it on
    every `app()` call: 0.1 s, most of a small command's time)."""
    global _click_command
    if _click_command is None:
        _click_command = typer.main.get_command(app)
        _no_flag_metavars(_click_command)
    return _click_command


def _no_flag_metavars(command) -> None:
    """A flag takes no value: Typer's rich help printed `<bool>` next to every one (issue
    29.15). An empty metavar is what it shows instead."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    made = command.get_help_option  # --help/-h is made per context, not one of the params

    def help_option(ctx, made=made):
        option = made(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _no_flag_metavars(sub)


def main() -> None:
    _register()
    try:
        # In non-standalone mode click returns typer.Exit's code instead of exiting.
        result = _command().main(args=sys.argv[1:], prog_name="nflens", standalone_mode=False)
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
    except NflensError as exc:
        typer.echo(bounded(printable(str(exc), keep_newlines=True)), err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file the user named could not be read or written
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        typer.echo(printable(f"{where}{exc.strerror or exc}"), err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (public base in typer >= 0.20)
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(2)
