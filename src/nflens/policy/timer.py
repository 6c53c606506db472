"""The confirm-or-rollback timer: `python -m nflens.policy.timer STATE_DIR TOKEN SECONDS FD`.

Started detached by apply.py *before* the apply changes anything. It imports what it needs,
writes "ready" on FD (the apply waits for that line) and sleeps SECONDS. Then, until the pending
apply named by TOKEN is gone, it rolls it back when its deadline has passed, or sleeps until the
deadline the record now says: an apply that finished moved the deadline to "confirm timeout from
now"; one that crashed half-way did not, so it is rolled back. Waiting for the lock (an apply or
a `confirm` running at the deadline) is unbounded in practice: a settle never stops half-way.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from nflens.errors import NflensError
from nflens.policy import state
from nflens.policy.settle import rollback_pending

LOCK_WAIT = 600.0


def main(argv: list[str]) -> int:
    root, token, seconds = Path(argv[0]), argv[1], float(argv[2])
    if len(argv) > 3:
        fd = int(argv[3])
        os.write(fd, b"ready\n")
        os.close(fd)
    time.sleep(seconds)
    while True:
        try:
            info = state.pending(root)
            if info is None or info.get("token") != token:
                return 0
            left = info["deadline"] - time.time()
            if left > 0:
                time.sleep(left)
                continue
            result = rollback_pending(root, token, wait=LOCK_WAIT, due=True)
        except NflensError as exc:
            print(time.ctime(), f"error: {exc}", flush=True)
            return 1
        if result != "not due":
            print(time.ctime(), result, flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
