"""Settle an apply: undo it (`policy rollback`, the timer, a failed or interrupted apply) or keep
it (`policy confirm`).

Undo works from the pending record alone, whatever a crash left: steps are undone in reverse,
each one whose state is "started" or "done" (a started step may or may not have committed; its
rollback is idempotent, see rollback.py), and each step's new state is written at once, so a
rollback that is itself interrupted resumes where it stopped. A step is "undone" only when the
rules read back equal the backup in what the apply touches; otherwise it is "undo-failed" with
what differs, and the record stays ("rollback-incomplete") until a later rollback gets there:
the state of the firewall is never declared known when it is not.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from nflens import dialect_registry
from nflens.errors import PolicyError
from nflens.policy import rollback, state, target
from nflens.proc import LOCAL, Completed, ProcessRunner, cmdline, nsenter, starttime

NFT_TABLE = ["nft", "list", "table", "inet", "nflens"]


def _iptables(runner: ProcessRunner, netns: str | None, step: dict[str, Any]) -> list[str]:
    """Against the rules as they are now: one transaction, else piece by piece."""
    name, save = step["name"], list(dialect_registry.get(step["name"]).save)
    now = runner.run(nsenter(netns, save))
    if not now.ok:
        return [f"{name}: cannot read the rules now: {now.detail()}"]
    pieces = rollback.iptables_pieces(step["before"], now.stdout)
    problems = []
    if pieces and not _restore(runner, netns, name, rollback.transaction(pieces)).ok:
        for piece in pieces:
            proc = _restore(runner, netns, name, rollback.transaction([piece]))
            if not proc.ok:
                more = f" (and {len(piece) - 1} more lines)" if len(piece) > 1 else ""
                problems.append(f"{name}: could not {piece[0]}{more}: {proc.detail(200)}")
    after = runner.run(nsenter(netns, save))
    if not after.ok:
        return problems + [f"{name}: cannot read the rules back: {after.detail()}"]
    return problems + [f"{name}: {r}" for r in
                       rollback.iptables_residue(step["before"], after.stdout)]


def _restore(runner: ProcessRunner, netns: str | None, name: str, text: str) -> Completed:
    return runner.run(nsenter(netns, list(dialect_registry.get(name).restore)), stdin=text)


def _norm(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _nft(runner: ProcessRunner, netns: str | None, step: dict[str, Any]) -> list[str]:
    proc = _restore(runner, netns, "nft", rollback.nft_rollback(step["before"]))
    if not proc.ok:
        return [f"nft: {' '.join(dialect_registry.get('nft').restore)} failed: {proc.detail()}"]
    now = runner.run(nsenter(netns, NFT_TABLE))
    if step["before"] == "":
        return [] if "No such file or directory" in now.stderr else \
            ["nft: table inet nflens is still there"]
    return [] if now.ok and _norm(now.stdout) == _norm(step["before"]) else \
        ["nft: table inet nflens differs from the backup"]


def _ebtables(runner: ProcessRunner, netns: str | None, step: dict[str, Any]) -> list[str]:
    text = rollback.ebtables_rollback(step["before"])
    proc = _restore(runner, netns, "ebtables", text)
    eb = dialect_registry.get("ebtables")
    if not proc.ok:
        return [f"ebtables: {' '.join(eb.restore)} failed: {proc.detail()}"]
    now = runner.run(nsenter(netns, list(eb.save)))
    same = now.ok and rollback.filter_section(now.stdout) == rollback.filter_section(text)
    return [] if same else ["ebtables: the filter table differs from the backup"]


UNDO = {"iptables": _iptables, "ip6tables": _iptables, "nft": _nft, "ebtables": _ebtables}


def undo(root: Path, info: dict[str, Any], runner: ProcessRunner) -> list[str]:
    """Undo every started step of `info` (the caller holds the locks); returns what could not
    be rolled back (empty: the record is closed and the timer stopped)."""
    netns = info.get("netns")
    if netns is not None and not Path(f"/run/netns/{netns}").exists():
        close(root, info, "target-gone")  # its rules went with it: nothing left to undo
        return []
    info["status"] = "rolling-back"
    problems: list[str] = []
    for step in reversed(info.get("steps", [])):
        if step.get("state", "done") in ("todo", "undone"):
            continue
        if "before" in step:
            errors = UNDO[step["name"]](runner, info.get("netns"), step)
        else:  # a record of nflens <= 0.x: its precomputed rollback transaction
            proc = _restore(runner, netns, step["name"], step["rollback"])
            errors = [] if proc.ok else [f"{step['name']}: {proc.detail()}"]
        step["state"] = "undo-failed" if errors else "undone"
        step["errors"] = errors
        state.write_json(root / "pending.json", info)
        problems += errors
    if problems:
        info["status"] = "rollback-incomplete"
        state.write_json(root / "pending.json", info)
        state.record(root, "rollback-failed", errors=problems, backup=info["backup"])
        return problems
    close(root, info, "rolled-back")
    return []


def close(root: Path, info: dict[str, Any], event: str) -> None:
    """The apply is settled: forget the record, free the target, stop the timer."""
    state.remove(root / "pending.json")
    if info.get("target"):
        target.unmark(info["target"], info["token"])
    stop_timer(info)
    state.record(root, event, backup=info["backup"], policy=info.get("policy"))


def stop_timer(info: dict[str, Any], sig: int = signal.SIGTERM) -> None:
    """The timer of a settled apply has nothing left to do (SIGTERM); one whose deadline moved
    re-reads it (SIGUSR1). Only that very process is signalled (pid, start time and its
    command line naming the token)."""
    pid = info.get("timer_pid")
    if not pid or pid == os.getpid() or starttime(pid) != info.get("timer_start"):
        return
    if "nflens.policy.timer" not in cmdline(pid) or info["token"] not in cmdline(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def rollback_pending(root: Path, token: str | None = None, wait: float = 0, due: bool = False,
                     runner: ProcessRunner = LOCAL) -> str:
    """Undo the pending apply; `token` guards against undoing a newer one, `due` (the timer)
    against undoing one whose deadline was moved on meanwhile (the apply finished)."""
    with state.locked(root, wait):
        info = state.pending(root)
        if info is None or (token is not None and info["token"] != token):
            return "nothing to roll back"
        if due and info["deadline"] > time.time():
            return "not due"
        with target.locked(_target_key(info), wait):
            problems = undo(root, info, runner)
    if problems:
        raise PolicyError("rollback incomplete: " + "; ".join(problems) + " (the record is "
                          f"kept: fix the cause and run `nflens policy rollback` again; backup: "
                          f"{info['backup']})")
    return f"rolled back to the rules saved in {info['backup']}"


def _target_key(info: dict[str, Any]) -> str:
    if info.get("target"):
        return info["target"]
    netns = info.get("netns")  # an older record: the namespace, if it is still there
    if netns is not None and not Path(f"/run/netns/{netns}").exists():
        return f"gone-{netns}"
    return target.resolve(netns).key


def confirm(root: Path) -> str:
    with state.locked(root, wait=5):
        info = state.pending(root)
        if info is None:
            return "nothing to confirm"
        if info.get("status", "pending") != "pending":
            raise PolicyError(f"the last apply is {info.get('status')!r}, not waiting for a "
                              "confirmation: run `nflens policy rollback` (and `nflens policy "
                              "status` to see its steps)")
        close(root, info, "confirmed")
        return "confirmed: the policy stays"
