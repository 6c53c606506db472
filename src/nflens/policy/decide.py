"""May this plan be applied? The refusals of `policy apply` and what `--force` overrides.

These are policy decisions, not argument parsing, so they live here and the CLI only renders
them: a plan that does not hold on the simulator, a change that would cut the SSH session the
command is typed in, an SSH_CONNECTION that cannot be understood (guard.py: never "no session").
`--force` turns each refusal into a warning the caller prints; it never silences one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nflens.errors import PolicyError
from nflens.policy.guard import Unreadable, cut_session
from nflens.policy.plan import Plan


@dataclass
class Decision:
    warnings: list[str] = field(default_factory=list)
    show_plan: bool = False  # the proof failed: the caller shows the plan with the refusal


class Refused(PolicyError):
    def __init__(self, message: str, show_plan: bool = False):
        super().__init__(message)
        self.show_plan = show_plan


def decide(plan: Plan, ssh_connection: str | None, force: bool) -> Decision:
    """Raise Refused, or return the warnings to print (forced refusals, the plan's own)."""
    out = Decision()
    if not plan.ok:
        if not force:
            raise Refused("refused: the plan does not hold on the simulator (--force to apply "
                          "anyway)", show_plan=True)
        out.warnings.append("the plan does not hold on the simulator; applying anyway (--force)")
        out.show_plan = True
    try:
        cut = cut_session(plan.before, plan.after, ssh_connection)
    except Unreadable as exc:
        why = (f"cannot tell whether this change cuts your SSH session: SSH_CONNECTION="
               f"{ssh_connection!r}: {exc}")
        if not force:
            raise Refused(f"refused: {why} (give --ssh-connection 'CLIENT PORT SERVER PORT', "
                          "or --force)") from None
        out.warnings.append(f"{why}; applying anyway (--force)")
    else:
        if cut is not None:
            what = f"this would cut your SSH session ({ssh_connection}): {cut.reason}"
            if not force:
                raise Refused(f"refused: {what} (--force to apply anyway)")
            out.warnings.append(f"{what}; applying anyway (--force)")
    out.warnings += [str(w) for w in plan.resolved.warnings]
    return out
