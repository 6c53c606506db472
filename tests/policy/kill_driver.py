"""`python -m tests.policy.kill_driver NS STATE_DIR POLICY SNAPSHOT TIMEOUT KILL_AT SIGNAL
[DIALECT]`:
one `policy apply` (the same calls as the CLI's) whose process runner sends SIGNAL to this
process right after its KILL_AT-th child exits (the timer's start counts): a kill at an exact
step boundary, with the real tools. KILL_AT 0: no kill (prints the number of children)."""

from __future__ import annotations

import os
import sys

from nflens.errors import NflensError
from nflens.policy.apply import apply_plan
from nflens.policy.live import host_for
from nflens.policy.plan import make_plan
from nflens.policy.schema import load_policy
from nflens.policy.state import state_dir
from nflens.proc import LOCAL


class KillAfter:
    def __init__(self, at: int, sig: int):
        self.at, self.sig, self.count = at, sig, 0

    def _after(self) -> None:
        self.count += 1
        if self.count == self.at:
            os.kill(os.getpid(), self.sig)

    def run(self, argv, **kw):
        try:
            return LOCAL.run(argv, **kw)
        finally:
            self._after()

    def spawn(self, argv, **kw):
        try:
            return LOCAL.spawn(argv, **kw)
        finally:
            self._after()


def main(argv: list[str]) -> int:
    ns, root, policy, snapshot, timeout, at, sig = argv[:7]
    dialect = argv[7] if len(argv) > 7 else "iptables"
    runner = KillAfter(int(at), int(sig))
    try:
        host = host_for(snapshot, ns, None, rules_live=True, runner=runner)
        plan = make_plan(load_policy(policy), host, dialect, check=False)
        apply_plan(plan, state_dir(root), ns, float(timeout), policy, runner=runner)
    except NflensError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # SIGINT before the apply's own handler (as the CLI's "aborted")
        print("aborted", file=sys.stderr)
        return 130
    print(runner.count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
