"""The confirm-or-rollback timer: `python -m nflens.policy.timer STATE_DIR TOKEN SECONDS`.

Started detached by apply.py. It sleeps, then rolls back the pending apply named by TOKEN
unless it was confirmed (pending.json gone) or replaced meanwhile. It waits up to 30 s for the
lock, so a `confirm` running at the deadline wins or loses cleanly, never half-way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    root, token, seconds = Path(argv[0]), argv[1], float(argv[2])
    time.sleep(seconds)
    from nflens.errors import NflensError
    from nflens.policy.apply import rollback_pending

    try:
        print(time.ctime(), rollback_pending(root, token, wait=30), flush=True)
    except NflensError as exc:
        print(time.ctime(), f"error: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
