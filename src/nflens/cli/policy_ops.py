"""`nflens policy apply|confirm|rollback|status|persist|watch`: the commands that touch a host."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the live commands to the `policy` group."""
