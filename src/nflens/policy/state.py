"""Where a live apply keeps its backups, its lock and the pending (unconfirmed) change.

    STATE_DIR/lock             flock'ed by every command that changes rules (apply, confirm,
                               rollback, the rollback timer); the target's own lock (target.py)
                               is taken after it, so two applies on one namespace never interleave
    STATE_DIR/pending.json     the apply under way or unconfirmed, written durably before its
                               first change: token, target, deadline, the timer's pid, and per
                               step its state (todo/started/done/undone) and the saved rules
    STATE_DIR/backups/STAMP/   full *-save / nft listings taken before each apply, kept
    STATE_DIR/last.json        what happened last (applied, confirmed, rolled back, failed)

The directory comes from --state-dir or NFLENS_STATE_DIR (tests use a temporary one), else
/var/lib/nflens.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nflens.errors import PolicyError

DEFAULT = Path("/var/lib/nflens")


def state_dir(given: str | Path | None = None, create: bool = True) -> Path:
    """The state directory; `create=False` for a reader (`policy status` is read-only: it
    made the backups folder, issue 29.15)."""
    path = Path(given or os.environ.get("NFLENS_STATE_DIR") or DEFAULT)
    if not create:
        return path
    try:
        (path / "backups").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PolicyError(f"cannot use state directory {path}: {exc.strerror or exc}") from None
    return path


@contextmanager
def locked(root: Path, wait: float = 0, name: str = "lock") -> Iterator[None]:
    """The apply lock; refuses (PolicyError) when another holder keeps it beyond `wait` s."""
    fd = os.open(root / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise PolicyError(f"another nflens policy command holds {root / name} "
                                      f"(pid {holder}); try again when it has finished") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: unreadable state ({exc}); inspect or remove it") from None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write, fsync, rename, fsync the directory: after a crash (even a power cut) the file is
    either the old one or the new one, whole. An apply writes its pending record this way
    before it changes anything, so the record that can undo a change always outlives it."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(data, indent=1) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    sync_dir(path.parent)


def sync_dir(path: Path) -> None:
    """A rename or an unlink is durable only once its directory is synced."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    """Unlink durably (a confirmed or rolled-back apply must not come back after a crash)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    sync_dir(path.parent)


def pending(root: Path) -> dict[str, Any] | None:
    return read_json(root / "pending.json")


def record(root: Path, event: str, **detail: Any) -> None:
    write_json(root / "last.json", {"event": event, "time": time.time(), **detail})
