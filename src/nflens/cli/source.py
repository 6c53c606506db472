"""Where a command's host comes from: `--snapshot DIR|TARBALL` or `--live` (this host, collected
first by nflens.snapshot.live, the path `policy plan` takes too). One of the two, never both."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nflens.errors import NflensError

if TYPE_CHECKING:
    from nflens.ir.host import Host

SNAPSHOT = typer.Option(None, "--snapshot", help="snapshot directory or .tar.gz")
LIVE = typer.Option(False, "--live", help="collect this host's snapshot first (root, read-only "
                    "commands, as `snapshot collect` would) and answer on it")


def host_of(snapshot: Path | None, live: bool, command: str) -> Host:
    """The Host `command` answers on; a usage error (exit 2) unless exactly one source."""
    if live and snapshot is not None:
        raise NflensError(f"{command}: --live and --snapshot exclude each other (--live "
                          "collects this host; --snapshot reads one collected before)")
    if live:
        from nflens.snapshot.live import collect_host

        return collect_host(f"{command} --live")
    if snapshot is None:
        raise NflensError(f"{command}: give --snapshot DIR (a snapshot directory or .tar.gz), "
                          "or --live to collect this host (root)")
    from nflens.snapshot.archive import read_host

    return read_host(snapshot)
