"""`nflens policy apply`: back up, change the live firewall atomically, and roll back unless
confirmed.

Order of an apply (all under the state directory's lock):
1. refuse when an earlier apply is still unconfirmed (its rollback would undo this one);
2. back up: `iptables-save`, `ip6tables-save`, `nft list ruleset`, `ebtables-save` into
   backups/STAMP/, and compute each step's inverse from them (rollback.py);
3. run the steps, each one transaction (`iptables-restore --noflush`, `ip6tables-restore
   --noflush`, `nft -j -f`, `ebtables-restore`). When a step fails, the steps already done are
   rolled back in reverse order, so a failure midway leaves the old rules in place;
4. with a confirm timeout, write pending.json and start the timer (timer.py), a detached
   process that rolls back at the deadline unless `nflens policy confirm` came first.

Every command runs through `Runner`, which prefixes `nsenter --net=/run/netns/NAME` when the
apply targets a namespace: the lab and the tests never touch the root namespace's rules.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nflens.errors import PolicyError, ToolError
from nflens.policy import rollback, state
from nflens.policy.plan import Plan

TOOLS = {  # step -> (apply argv, backup argv, backup file)
    "iptables": (["iptables-restore", "--noflush"], ["iptables-save"], "iptables-save.txt"),
    "ip6tables": (["ip6tables-restore", "--noflush"], ["ip6tables-save"], "ip6tables-save.txt"),
    "nft": (["nft", "-j", "-f", "-"], ["nft", "list", "table", "inet", "nflens"], "nflens.nft"),
    "ebtables": (["ebtables-restore"], ["ebtables-save"], "ebtables-save.txt"),
}
ROLLBACK_ARGV = {"iptables": ["iptables-restore", "--noflush"],
                 "ip6tables": ["ip6tables-restore", "--noflush"],
                 "nft": ["nft", "-f", "-"], "ebtables": ["ebtables-restore"]}
FULL_BACKUP = {"iptables-save.txt": ["iptables-save"], "ip6tables-save.txt": ["ip6tables-save"],
               "nft-ruleset.txt": ["nft", "list", "ruleset"], "ebtables-save.txt": ["ebtables-save"]}


@dataclass(frozen=True)
class Runner:
    """Runs a netfilter tool in the current namespace or in /run/netns/`netns`."""

    netns: str | None = None

    def argv(self, argv: list[str]) -> list[str]:
        if self.netns is None:
            return argv
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--"] + argv

    def run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self.argv(argv), input=stdin, capture_output=True, text=True,
                                  timeout=60)
        except FileNotFoundError as exc:
            raise ToolError(f"{argv[0]} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"{' '.join(argv)} timed out") from exc


def backup(runner: Runner, root: Path) -> Path:
    """Full listings of every ruleset, before anything changes (kept for the user too)."""
    where = root / "backups" / time.strftime("%Y%m%d-%H%M%S")
    where = where.with_name(f"{where.name}-{secrets.token_hex(2)}")
    where.mkdir(parents=True)
    for name, argv in FULL_BACKUP.items():
        proc = runner.run(argv)
        (where / name).write_text(proc.stdout if proc.returncode == 0 else "")
    return where


def inverse(step: str, runner: Runner, saved: Path) -> str:
    """The rollback transaction of one step, from the backup."""
    if step in ("iptables", "ip6tables"):
        return rollback.iptables_rollback((saved / f"{step}-save.txt").read_text())
    if step == "nft":
        proc = runner.run(TOOLS["nft"][1])
        return rollback.nft_rollback(proc.stdout if proc.returncode == 0 else None)
    return rollback.ebtables_rollback((saved / "ebtables-save.txt").read_text())


def _run_step(runner: Runner, argv: list[str], payload: str, what: str) -> None:
    proc = runner.run(argv, payload)
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:500]
        raise ToolError(f"{what}: {' '.join(argv)} failed: {detail}")


def undo(runner: Runner, steps: list[dict[str, Any]]) -> list[str]:
    """Roll back `steps` in reverse order; returns the errors (empty when all went back)."""
    errors = []
    for step in reversed(steps):
        try:
            _run_step(runner, ROLLBACK_ARGV[step["name"]], step["rollback"],
                      f"rollback of {step['name']}")
        except ToolError as exc:
            errors.append(str(exc))
    return errors


def transact(runner: Runner, payloads: dict[str, str], saved: Path) -> list[dict[str, Any]]:
    """Run each step; on a failure undo the finished ones and raise."""
    done: list[dict[str, Any]] = []
    for name, payload in payloads.items():
        step = {"name": name, "rollback": inverse(name, runner, saved)}
        (saved / f"rollback-{name}.txt").write_text(step["rollback"])
        try:
            _run_step(runner, TOOLS[name][0], payload, f"apply of {name}")
        except ToolError as exc:
            errors = undo(runner, done)
            state_note = "the previous rules are back in place" if not errors else \
                "ROLLBACK FAILED too: " + "; ".join(errors) + f" (backup: {saved})"
            raise PolicyError(f"{exc}; {state_note}") from None
        done.append(step)
    return done


def apply_plan(plan: Plan, root: Path, runner: Runner, confirm_timeout: float,
               policy_file: str | None = None) -> dict[str, Any]:
    """Steps 1-4 of the module docstring; returns the pending record (or the applied one)."""
    with state.locked(root):
        waiting = state.pending(root)
        if waiting is not None:
            raise PolicyError("an earlier apply is not confirmed yet (it rolls back at "
                              f"{time.ctime(waiting['deadline'])}): run `nflens policy confirm` "
                              "or `nflens policy rollback` first")
        saved = backup(runner, root)
        steps = transact(runner, plan.payloads, saved)
        info = {"token": secrets.token_hex(8), "backup": str(saved), "netns": runner.netns,
                "steps": steps, "policy": policy_file, "applied": time.time()}
        if confirm_timeout <= 0:
            state.record(root, "applied", backup=str(saved), policy=policy_file)
            return info
        info["deadline"] = time.time() + confirm_timeout
        state.write_json(root / "pending.json", info)
        info["timer_pid"] = start_timer(root, info["token"], confirm_timeout)
        state.write_json(root / "pending.json", info)
        state.record(root, "pending", backup=str(saved), policy=policy_file)
        return info


def start_timer(root: Path, token: str, seconds: float) -> int:
    """A detached process (own session, no terminal) that outlives this command and the SSH
    session that ran it; it needs neither systemd-run nor at."""
    log = open(root / "timer.log", "a")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.Popen([sys.executable, "-m", "nflens.policy.timer", str(root), token,
                             str(seconds)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, close_fds=True, env=env)
    log.close()
    return proc.pid


def rollback_pending(root: Path, token: str | None = None, wait: float = 0) -> str:
    """Undo the pending apply (all of it); `token` guards against undoing a newer one."""
    with state.locked(root, wait):
        info = state.pending(root)
        if info is None or (token is not None and info["token"] != token):
            return "nothing to roll back"
        errors = undo(Runner(info.get("netns")), info["steps"])
        (root / "pending.json").unlink()
        _stop_timer(info)
        if errors:
            state.record(root, "rollback-failed", errors=errors, backup=info["backup"])
            raise PolicyError("rollback failed: " + "; ".join(errors)
                              + f" (backup: {info['backup']})")
        state.record(root, "rolled-back", backup=info["backup"], policy=info.get("policy"))
        return f"rolled back to the rules saved in {info['backup']}"


def _stop_timer(info: dict[str, Any]) -> None:
    """The timer of a pending apply that was just settled has nothing left to do."""
    pid = info.get("timer_pid")
    if pid and pid != os.getpid():
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def confirm(root: Path) -> str:
    with state.locked(root, wait=5):
        info = state.pending(root)
        if info is None:
            return "nothing to confirm"
        (root / "pending.json").unlink()
        _stop_timer(info)
        state.record(root, "confirmed", backup=info["backup"], policy=info.get("policy"))
        return "confirmed: the policy stays"
