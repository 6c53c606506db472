"""Where a live apply keeps its backups, its lock and the pending (unconfirmed) change.

    STATE_DIR/lock             flock'ed by every command that changes rules (apply, confirm,
                               rollback, the rollback timer): two applies never interleave
    STATE_DIR/pending.json     the last apply until it is confirmed: its token, its deadline,
                               the timer's pid and the rollback transactions
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from nflens.errors import PolicyError

DEFAULT = Path("/var/lib/nflens")


def state_dir(given: str | Path | None = None) -> Path:
    path = Path(given or os.environ.get("NFLENS_STATE_DIR") or DEFAULT)
    try:
        (path / "backups").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PolicyError(f"cannot use state directory {path}: {exc.strerror or exc}") from None
    return path


@contextmanager
def locked(root: Path, wait: float = 0) -> Iterator[None]:
    """The apply lock; refuses (PolicyError) when another holder keeps it beyond `wait` s."""
    fd = os.open(root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise PolicyError(f"another nflens policy command holds {root / 'lock'} "
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
    """Write-then-rename, so a crash never leaves half a pending file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def pending(root: Path) -> dict[str, Any] | None:
    return read_json(root / "pending.json")


def record(root: Path, event: str, **detail: Any) -> None:
    write_json(root / "last.json", {"event": event, "time": time.time(), **detail})
