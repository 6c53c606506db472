"""The live host a policy is resolved against: a snapshot, collected or given.

`plan --snapshot DIR` reads DIR as it is. Without it the host is collected (read-only commands,
by nflens.snapshot.live, the one path `audit --live` takes too) into a temporary directory, in
the current network namespace or in `netns`. `apply` always reads the *rules* live, even with
--snapshot: the transaction depends on what DOCKER-USER and INPUT hold right now (is our jump
there, and first?). A ruleset that cannot be read (the namespace is gone, no permission) stops
the command; only a tool that is not installed (exit 127) stands for "no rules of that kind".

A collected host whose Docker daemon did not answer is refused: every container would look
stopped and every network absent, so the policy would compile to (almost) nothing and an apply
would silently drop its statements -- on a real host the moment this happens is a Docker restart
(`watch` re-applying on the burst of `die` events while dockerd shuts down), exactly when the
published ports come back. Found in the lab: seed 001's policy applied with dockerd down emptied
NFLENS-INBOUND and opened port 8080 to the WAN.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from nflens import dialect_registry
from nflens.errors import PolicyError
from nflens.ir.host import Host
from nflens.policy import target
from nflens.proc import LOCAL, ProcessRunner, nsenter
from nflens.snapshot import rulesets
from nflens.snapshot.archive import read_host
from nflens.snapshot.live import collect_host

RULE_FILES = tuple(f for f, _argv in dialect_registry.collected())


def _docker_answered(out: Path, report) -> None:
    """Refuse a collected host whose Docker daemon did not answer (module docstring)."""
    if not (out / "docker-info.json").exists():
        why = dict(report.missing).get("docker-info.json", "no answer")
        raise PolicyError(f"Docker did not answer ({why}): without its containers and "
                          "networks the policy would resolve to nothing and its rules would "
                          "be dropped; nothing was changed (start Docker, or give "
                          "--docker-host / --snapshot)")


def collect_rules(out: Path, netns: str | None, runner: ProcessRunner | None = None) -> None:
    """Only the rulesets of the live host (or `netns`), into `out`."""
    from nflens.snapshot.collect import COMMANDS

    for name, argv in COMMANDS:
        if name not in RULE_FILES:
            continue
        proc = (runner or LOCAL).run(nsenter(netns, argv))
        if proc.ok:
            (out / name).write_text(proc.stdout)
        elif proc.returncode != 127 or (proc.error is not None and proc.argv[0] == "nsenter"):
            # an unreadable ruleset is not an empty one: a policy resolved against "no rules"
            # would be applied for the wrong reasons (and refused, or not, by luck)
            raise PolicyError(f"cannot read the live rules: `{' '.join(argv)}`"
                              + (f" in network namespace {netns!r}" if netns else "")
                              + f" failed: {proc.detail()}; nothing was changed")


def live_rules(netns: str | None, runner: ProcessRunner | None = None):
    with tempfile.TemporaryDirectory(prefix="nflens-rules-") as tmp:
        collect_rules(Path(tmp), netns, runner)

        def read(name: str) -> str | None:
            p = Path(tmp) / name
            return p.read_text() if p.exists() else None

        ruleset, _ = rulesets.load(read)
    return ruleset


def host_for(snapshot: Path | None, netns: str | None, docker_host: str | None,
             rules_live: bool, runner: ProcessRunner | None = None) -> Host:
    if netns is not None:
        target.resolve(netns)  # a namespace that does not exist is named, never read as empty
    if snapshot is not None:
        host = read_host(snapshot)  # a directory or a tarball
        if rules_live:
            host = replace(host, ruleset=live_rules(netns, runner))
        return host
    return collect_host("policy", netns, docker_host, runner, accept=_docker_answered)
