"""`nflens policy apply`: back up, change the live firewall step by step, roll back unless
confirmed -- and never leave a change that nothing can undo.

Order of an apply (under the state directory's lock, then the target's, target.py):
1. refuse when an earlier apply on this state directory or on this target is unconfirmed (its
   rollback would undo this one);
2. back up: `iptables-save`, `ip6tables-save`, `nft list ruleset`, `ebtables-save` into
   backups/STAMP/. A backup that fails (or is empty) for a tool the apply changes refuses the
   apply: a rollback built from an empty backup would delete DOCKER-USER;
3. start the timer (timer.py), a detached process that rolls back at the deadline unless
   `nflens policy confirm` came first, and wait until it is running;
4. write pending.json durably (fsync file and directory): the token, the timer, and per step
   the saved rules and the state todo -> started -> done. From here on a crash at any instant
   (SIGKILL, power) leaves a record that `policy rollback` and the timer can undo from;
5. run the steps, one transaction each (`iptables-restore --noflush`, `ip6tables-restore
   --noflush`, `nft -j -f`, `ebtables-restore`). When a step fails or SIGINT, SIGTERM or SIGHUP
   arrives (Ctrl-C, kill, the SSH session closing), the started steps are undone (settle.py);
6. with a confirm timeout the record becomes "pending" with the deadline counted from now; with
   none it is removed and the timer stopped.

Between 3 and 6 the timer's deadline is the confirm timeout plus APPLY_GRACE, so even a crashed
apply without a confirm timeout is rolled back. Every process goes through the ProcessRunner
seam (nflens.proc), in the target's namespace via nsenter.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nflens import dialect_registry
from nflens.errors import PolicyError, ToolError
from nflens.policy import settle, state, target
from nflens.policy.plan import Plan
from nflens.policy.settle import NFT_TABLE
from nflens.proc import LOCAL, ProcessRunner, nsenter, starttime

# s the timer allows an apply to finish before it rolls back anyway (after a crash half-way)
APPLY_GRACE = float(os.environ.get("NFLENS_APPLY_GRACE") or 60)
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ApplyInterrupted(PolicyError):
    exit_code = 130


class _Signalled(BaseException):
    """Raised from the signal handler so the step loop unwinds into the undo."""


def _write_backup(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(runner: ProcessRunner, netns: str | None, root: Path,
           steps: list[str]) -> tuple[Path, dict[str, str]]:
    """Full listings of every ruleset, before anything changes (kept for the user too), and
    per step the rules its rollback restores. No complete backup for a step, no apply."""
    where = root / "backups" / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    where.mkdir(parents=True)
    texts: dict[str, str] = {}
    needs = {step: _backup_file(step) for step in steps}
    for dialect in dialect_registry.dialects():
        if dialect.backup is None:
            continue
        name, argv = dialect.backup[0], list(dialect.backup[1])
        proc = runner.run(nsenter(netns, argv))
        needed = name in needs.values()
        if proc.ok:
            texts[name] = proc.stdout
            _write_backup(where / name, proc.stdout)
        elif needed:
            raise PolicyError(f"refused: the backup failed: `{' '.join(argv)}`: "
                              f"{proc.detail()}; nothing was changed")
        else:
            _write_backup(where / f"{name}.failed", proc.detail() + "\n")
    for step in steps:
        must = dialect_registry.get(step).backup_needs
        if must and must not in texts[needs[step]]:
            raise PolicyError(f"refused: `{' '.join(dialect_registry.get(step).save)}` printed "
                              "no filter table, so there is nothing to roll back to; nothing "
                              "was changed")
    state.sync_dir(where)
    return where, {step: _before(runner, netns, step, texts) for step in steps}


def _backup_file(step: str) -> str:
    """The file of the full backup a step's rollback is taken from."""
    backup = dialect_registry.get(step).backup
    if backup is None:
        raise PolicyError(f"{step}: nflens cannot back its rules up, so it does not change them")
    return backup[0]


def _before(runner: ProcessRunner, netns: str | None, step: str, texts: dict[str, str]) -> str:
    if step != "nft":
        return texts[_backup_file(step)]
    proc = runner.run(nsenter(netns, NFT_TABLE))
    if proc.ok:
        return proc.stdout
    if "No such file or directory" in proc.stderr:
        return ""  # no table inet nflens yet: the rollback deletes it
    raise PolicyError(f"refused: the backup failed: `{' '.join(NFT_TABLE)}`: {proc.detail()}; "
                      "nothing was changed")


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP raise once, in the main thread, so the finished steps are undone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = [True]

    def handler(signum: int, frame: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise _Signalled(signum)

    old = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """While undoing, further signals are ignored -- by the tools started meanwhile too
    (SIG_IGN is inherited across exec): a second Ctrl-C must not stop a rollback half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _refuse_pending(root: Path, tgt: target.Target) -> None:
    waiting = state.pending(root)
    if waiting is not None:
        raise PolicyError("an earlier apply is not confirmed yet (it rolls back at "
                          f"{time.ctime(waiting['deadline'])}): run `nflens policy confirm` "
                          "or `nflens policy rollback` first")
    other = target.pending_elsewhere(tgt.key, root)
    if other is not None:
        raise PolicyError(f"an earlier apply on {tgt.describe()} is not confirmed yet (state "
                          f"directory {other}): confirm or roll it back first "
                          f"(`nflens policy rollback --state-dir {other}`)")


def apply_plan(plan: Plan, root: Path, netns: str | None, confirm_timeout: float,
               policy_file: str | None = None, runner: ProcessRunner = LOCAL) -> dict[str, Any]:
    """Steps 1-6 of the module docstring; returns the record (pending, or applied)."""
    tgt = target.resolve(netns)
    info: dict[str, Any] = {}  # filled as the apply goes: what exists at any instant
    with _interruptible():
        try:
            with state.locked(root), target.locked(tgt.key):
                return _apply_locked(info, plan, root, tgt, confirm_timeout, policy_file, runner)
        except _Signalled as sig:  # waiting for a lock, or in the instant after the apply
            if info.get("status") in ("pending", "applied"):
                return info  # it had finished: the record and its timer are in place
            raise ApplyInterrupted(f"interrupted by signal {sig.args[0]}; nothing was "
                                   "changed") from None


def _apply_locked(info: dict[str, Any], plan: Plan, root: Path, tgt: target.Target,
                  confirm_timeout: float, policy_file: str | None,
                  runner: ProcessRunner) -> dict[str, Any]:
    try:
        _refuse_pending(root, tgt)
        saved, befores = backup(runner, tgt.netns, root, list(plan.payloads))
        _journal(info, plan, root, tgt, saved, befores, confirm_timeout, policy_file, runner)
        _run_steps(plan, root, info, runner)
        _finish(root, info, confirm_timeout)
    except _Signalled as sig:
        _abort(root, info, runner, ApplyInterrupted(f"interrupted by signal {sig.args[0]}"))
    except ToolError as exc:
        _abort(root, info, runner, PolicyError(str(exc)))
    return info


def _journal(info: dict[str, Any], plan: Plan, root: Path, tgt: target.Target, saved: Path,
             befores: dict[str, str], confirm_timeout: float, policy_file: str | None,
             runner: ProcessRunner) -> None:
    """Start the timer, then write the record that can undo every step (before any change).
    `info` is filled in place, so an interruption at any point here knows what exists."""
    token = secrets.token_hex(8)
    first = confirm_timeout + APPLY_GRACE
    pid = start_timer(runner, root, token, first)
    info.update({"token": token, "timer_pid": pid, "timer_start": starttime(pid)})
    info.update({"status": "applying", "netns": tgt.netns, "target": tgt.key,
                 "backup": str(saved), "policy": policy_file, "applied": time.time(),
                 "deadline": time.time() + first,
                 "steps": [{"name": name, "state": "todo", "before": befores[name]}
                           for name in plan.payloads]})
    state.write_json(root / "pending.json", info)
    target.mark(tgt.key, root, token)


def _run_steps(plan: Plan, root: Path, info: dict[str, Any], runner: ProcessRunner) -> None:
    for step in info["steps"]:
        step["state"] = "started"
        state.write_json(root / "pending.json", info)
        argv = list(dialect_registry.get(step["name"]).apply)
        proc = runner.run(nsenter(info["netns"], argv), stdin=plan.payloads[step["name"]])
        if not proc.ok:
            raise ToolError(f"apply of {step['name']}: {' '.join(argv)} failed: "
                            f"{proc.detail()}")
        step["state"] = "done"
        state.write_json(root / "pending.json", info)


def _abort(root: Path, info: dict[str, Any], runner: ProcessRunner, exc: PolicyError) -> None:
    """A failed or interrupted apply: undo what started; raise, saying where things stand."""
    with _uninterruptible():
        if "steps" not in info:  # nothing was changed yet (refused, or before the record)
            if "timer_pid" in info:
                settle.stop_timer(info)
            raise exc.__class__(f"{exc}; nothing was changed")
        problems = settle.undo(root, info, runner)
    if problems:
        raise exc.__class__(f"{exc}; ROLLBACK INCOMPLETE: {'; '.join(problems)} (backup: "
                            f"{info['backup']}; `nflens policy status` shows the record, "
                            "`nflens policy rollback` retries)")
    raise exc.__class__(f"{exc}; the previous rules are back in place")


def _finish(root: Path, info: dict[str, Any], confirm_timeout: float) -> None:
    if confirm_timeout <= 0:
        info["status"] = "applied"
        settle.close(root, info, "applied")
        return
    info["status"] = "pending"
    info["deadline"] = time.time() + confirm_timeout
    state.write_json(root / "pending.json", info)
    settle.stop_timer(info, signal.SIGUSR1)  # the deadline moved: the timer re-reads it
    state.record(root, "pending", backup=info["backup"], policy=info.get("policy"))


def start_timer(runner: ProcessRunner, root: Path, token: str, seconds: float) -> int:
    """A detached process (own session, no terminal) that outlives this command and the SSH
    session that ran it; it needs neither systemd-run nor at. Returns once it runs: it writes
    a line on a pipe when its imports are done, so a timer that cannot start refuses the apply
    before anything changed."""
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        with open(root / "timer.log", "a") as log:
            proc = runner.spawn([sys.executable, "-m", "nflens.policy.timer", str(root), token,
                                 f"{seconds:g}", str(write_fd)], stdout=log, env=env,
                                pass_fds=(write_fd,))
        os.close(write_fd)
        write_fd = -1
        ready, _, _ = select.select([read_fd], [], [], 20)
        if not ready or not os.read(read_fd, 16).startswith(b"ready"):
            raise PolicyError("the rollback timer did not start (see "
                              f"{root / 'timer.log'}); nothing was changed")
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    return proc.pid
