"""The live host a policy is resolved against: a snapshot, collected or given.

`plan --snapshot DIR` reads DIR as it is. Without it the host is collected (read-only commands,
nflens.snapshot.collect) into a temporary directory, in the current network namespace or in
`netns`. `apply` always reads the *rules* live, even with --snapshot: the transaction depends on
what DOCKER-USER and INPUT hold right now (is our jump there, and first?).

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

from nflens.errors import PolicyError
from nflens.ir.host import Host
from nflens.snapshot import rulesets
from nflens.snapshot.archive import read_host
from nflens.snapshot.read import read_snapshot

RULE_FILES = ("iptables-save.txt", "ip6tables-save.txt", "nft.json", "ebtables-save.txt")


def collect_to(out: Path, netns: str | None, docker_host: str | None, rules_only: bool) -> None:
    from nflens.snapshot.collect import COMMANDS, collect, run_command

    if not rules_only:
        report = collect(out, netns=netns, docker_host=docker_host)
        if not (out / "docker-info.json").exists():
            why = dict(report.missing).get("docker-info.json", "no answer")
            raise PolicyError(f"Docker did not answer ({why}): without its containers and "
                              "networks the policy would resolve to nothing and its rules would "
                              "be dropped; nothing was changed (start Docker, or give "
                              "--docker-host / --snapshot)")
        return
    for name, argv in COMMANDS:
        if name not in RULE_FILES:
            continue
        full = (["nsenter", f"--net=/run/netns/{netns}", "--"] if netns else []) + argv
        rc, out_text, _ = run_command(full)
        if rc == 0:
            (out / name).write_text(out_text)


def live_rules(netns: str | None):
    with tempfile.TemporaryDirectory(prefix="nflens-rules-") as tmp:
        collect_to(Path(tmp), netns, None, rules_only=True)

        def read(name: str) -> str | None:
            p = Path(tmp) / name
            return p.read_text() if p.exists() else None

        ruleset, _ = rulesets.load(read)
    return ruleset


def host_for(snapshot: Path | None, netns: str | None, docker_host: str | None,
             rules_live: bool) -> Host:
    if snapshot is not None:
        host = read_host(snapshot)  # a directory or a tarball
        if rules_live:
            host = replace(host, ruleset=live_rules(netns))
        return host
    with tempfile.TemporaryDirectory(prefix="nflens-snap-") as tmp:
        collect_to(Path(tmp), netns, docker_host, rules_only=False)
        return read_snapshot(tmp)
