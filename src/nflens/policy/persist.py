"""`nflens policy persist`: a systemd unit that re-applies the policy whenever Docker starts.

Why bound to docker.service: Docker (re)creates its chains when it starts, and DOCKER-USER's
jump from FORWARD with them; seed 000's own boot script ran "after docker" for the same reason.
- `After=docker.service` orders the apply after Docker has set up its rules;
- `PartOf=docker.service` stops/restarts the unit whenever docker.service is stopped/restarted,
  so `systemctl restart docker` re-applies too;
- `WantedBy=docker.service` (install section) starts it whenever Docker starts, at boot included.
The apply runs without a confirm timer (nobody is there to confirm at boot) and without the
simulator proof (the policy was proven when it was planned); it still takes the lock and a
backup, and is one transaction per tool.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

UNIT_NAME = "nflens-policy.service"


def apply_argv(policy: Path, nflens: list[str] | None = None,
               docker_host: str | None = None) -> list[str]:
    """The command the unit runs (and `watch` re-runs): a non-interactive apply."""
    argv = list(nflens or [sys.executable, "-m", "nflens"])
    argv += ["policy", "apply", str(policy.resolve()), "--confirm-timeout", "0", "--no-verify",
             "--allow-missing"]  # at boot, a container may be gone: not a reason to fail
    if docker_host:
        argv += ["--docker-host", docker_host]
    return argv


def unit_text(policy: Path, state_dir: Path, nflens: list[str] | None = None,
              docker_host: str | None = None) -> str:
    cmd = shlex.join(apply_argv(policy, nflens, docker_host))
    return "\n".join([
        "[Unit]",
        f"Description=nflens policy {policy.resolve()} (re-applied whenever Docker starts)",
        "After=docker.service",
        "PartOf=docker.service",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        f"Environment=NFLENS_STATE_DIR={state_dir}",
        f"ExecStart={cmd}",
        f"ExecReload={cmd}",
        "",
        "[Install]",
        "WantedBy=docker.service",
        "",
    ])


def exec_start(unit: str) -> list[str]:
    """The ExecStart argv of a unit text (what systemd would run)."""
    for line in unit.splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line.removeprefix("ExecStart="))
    raise ValueError("no ExecStart in unit")


def write_unit(policy: Path, unit_dir: Path, state_dir: Path, nflens: list[str] | None = None,
               docker_host: str | None = None) -> Path:
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / UNIT_NAME
    path.write_text(unit_text(policy, state_dir, nflens, docker_host))
    return path
