"""The confirm-or-rollback timer: `python -m nflens.policy.timer STATE_DIR TOKEN SECONDS FD`.

Started detached by apply.py *before* the apply changes anything. It imports what it needs,
writes "ready" on FD (the apply waits for that line), then waits for the apply's record (named
by TOKEN; the apply writes it right after) for at most RECORD_WAIT seconds. From then on, until
the record is gone (confirmed, rolled back) or replaced, it sleeps until the record's deadline
and rolls back. The deadline moves when the apply finishes ("confirm timeout from now"; the
apply sends SIGUSR1 so the timer re-reads it at once); an apply that crashed half-way never
moved it, so it is rolled back at the first deadline (confirm timeout + apply.APPLY_GRACE).
Waiting for the lock (an apply or a `confirm` running at the deadline) is long: a settle never
stops half-way.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from nflens.errors import NflensError
from nflens.policy import state
from nflens.policy.settle import rollback_pending

LOCK_WAIT = 600.0
POLL = 0.2  # s between looks for the record right after the start
RECORD_WAIT = 30.0  # s: the apply writes its record right after "ready"; later, it died


class _Wake(Exception):
    pass


def _wake(signum: int, frame: object) -> None:
    raise _Wake()


def main(argv: list[str]) -> int:
    root, token, seconds = Path(argv[0]), argv[1], float(argv[2])
    signal.signal(signal.SIGUSR1, _wake)
    first = time.time() + min(seconds, RECORD_WAIT)
    if len(argv) > 3:
        fd = int(argv[3])
        os.write(fd, b"ready\n")
        os.close(fd)
    seen = False
    while True:
        try:
            info = state.pending(root)
            if info is None or info.get("token") != token:
                if seen or info is not None or time.time() >= first:
                    return 0  # settled, replaced, or the apply died before writing it
                time.sleep(POLL)
                continue
            seen = True
            left = info["deadline"] - time.time()
            if left > 0:
                time.sleep(left)
                continue
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            result = rollback_pending(root, token, wait=LOCK_WAIT, due=True)
            signal.signal(signal.SIGUSR1, _wake)
        except _Wake:
            continue
        except NflensError as exc:
            print(time.ctime(), f"error: {exc}", flush=True)
            return 1
        if result != "not due":
            print(time.ctime(), result, flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
