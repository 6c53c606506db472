"""`nflens policy persist|watch`: keep the policy in force across boots, Docker restarts and
container changes."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds persist and watch to the `policy` group."""
