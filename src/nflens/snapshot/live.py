"""The live host as a Host: collected with the read-only collector of `snapshot collect`
(collect.py) into a private temporary directory, read, and the directory removed.

The one path from "this machine" to a Host: `trace|check|audit --live` and `policy plan` without
--snapshot (policy/live.py, which adds its own demand that Docker answered) all come here, so
what a live answer sees is exactly what `snapshot collect DIR` would write and
`--snapshot DIR` would read.

Collecting needs root: without it `iptables-save` and `nft list ruleset` fail, their files are
left out, and the host would read as one with no firewall at all -- an answer that looks clean
and is wrong. So a caller that is not root is refused before anything runs (a test's
FakeRunner, which runs nothing, is not asked for root).
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from nflens.errors import NflensError
from nflens.ir.host import Host
from nflens.proc import ProcessRunner


class NotRoot(NflensError):
    """A live collection asked of a process that cannot read the rules."""


def require_root(what: str) -> None:
    """Refuse `what` (e.g. "audit --live") unless this process is root."""
    if os.geteuid() != 0:
        raise NotRoot(f"{what}: collecting this host's snapshot needs root (iptables-save and "
                      "nft list ruleset read the kernel's rules): run it with sudo, or collect "
                      "once with `sudo nflens snapshot collect DIR` and pass --snapshot DIR")


def collect_host(what: str, netns: str | None = None, docker_host: str | None = None,
                 runner: ProcessRunner | None = None,
                 accept: Callable[[Path, object], None] | None = None) -> Host:
    """Collect this host (or network namespace `netns`) and read it. `what` names the command
    in the root error; `accept(dir, report)` may refuse the collected files before they are
    read (policy: Docker must have answered). The directory is private (mode 0700, made by
    tempfile) and removed on every path out, error or not; it is named after the hostname
    so that the Host carries that name, as a `snapshot collect` directory would."""
    from nflens.snapshot.collect import collect  # at call time: tests replace it
    from nflens.snapshot.read import read_snapshot

    if runner is None:
        require_root(what)
    with tempfile.TemporaryDirectory(prefix="nflens-live-") as tmp:
        out = Path(tmp) / (_safe_name(socket.gethostname()) or "live")
        out.mkdir()
        report = collect(out, netns=netns, docker_host=docker_host, runner=runner)
        if accept is not None:
            accept(out, report)
        return read_snapshot(out)


def _safe_name(name: str) -> str:
    """A hostname as one path component (it is ours to name, never a path)."""
    return "".join(c for c in name if c.isalnum() or c in "-_.").strip(".")
