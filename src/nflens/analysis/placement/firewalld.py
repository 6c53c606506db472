"""firewalld 1.x hosts: the fix's rules as permanent direct rules (direct.xml) in mangle
FORWARD, which firewalld re-adds at every start and reload (not in DOCKER-USER: see `_direct`).
(firewalld >= 2.3 can instead refuse forwarded published ports that no zone allows:
StrictForwardPorts=yes in firewalld.conf.) The edits follow the rules to mangle FORWARD, so
the simulator verifies what firewalld will load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nflens.analysis.fixes import Edit, Fix
from nflens.analysis.placement import iptables_docker_user as iptables

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext, Published

NAME = "firewalld"
RANK = 20


def owns(ctx: AuditContext, fix: Fix) -> bool:
    return "firewalld" in ctx.owners.managers and iptables.owns(ctx, fix)


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    if fix.guard is not None:
        return firewalld_fix(fix.guard.published, [iptables.spec(r) for r in fix.rules])
    return translate(ctx, iptables.realize(ctx, fix, owner))


def translate(ctx: AuditContext, fix: Fix) -> Fix:
    """DOCKER-USER inserts as direct rules in mangle FORWARD, in order."""
    parts: list[str] = []
    edits = list(fix.edits)
    for family in dict.fromkeys(e.family for e in fix.edits):
        specs = [e.spec for e in fix.edits if e.family == family and e.spec is not None]
        parts += _direct(family, specs)
        edits = [e for e in edits if e.family != family] + _direct_edits(family, specs)
    return Fix(edits, note=fix.note, shown="\n".join(parts))


def _direct(family: str, specs: list[str]) -> list[str]:
    """firewall-cmd lines: the rules as permanent direct rules in mangle FORWARD (one priority
    each), not in DOCKER-USER.

    What the lab showed (firewalld 1.3.3 nftables backend, Docker 20.10, issue 13): at every
    `firewall-cmd --reload` firewalld flushes the iptables rules and re-adds its direct rules;
    Docker then re-creates its own on firewalld's Reloaded signal, *inserting* its ACCEPT rules
    at the top of filter FORWARD and `-j DOCKER-USER` after them. Direct rules in DOCKER-USER
    (and a direct jump to it at FORWARD's top, tried too) then never see a published port's
    connections until dockerd restarts. mangle FORWARD is a base chain of its own that Docker
    does not touch, and a DROP there is final whatever filter FORWARD accepts later; the
    packets are the same (after DNAT, before filter)."""
    ipv = "ipv6" if family == "ip6" else "ipv4"
    return ([f"firewall-cmd --permanent --direct --add-rule {ipv} mangle FORWARD {n} {s}"
             for n, s in enumerate(specs)] + ["firewall-cmd --reload"])




def _direct_edits(family: str, specs: list[str]) -> list[Edit]:
    return [Edit(family, "mangle", "FORWARD", i + 1, s) for i, s in enumerate(specs)]




def firewalld_fix(p: Published, specs: list[str]) -> Fix:
    """The fix's rules as permanent direct rules in mangle FORWARD, in order (`_direct`)."""
    return Fix(_direct_edits(p.family, specs), shown="\n".join(_direct(p.family, specs)),
               note="firewalld re-adds its direct rules (/etc/firewalld/direct.xml) at every "
                    "start and reload; on firewalld >= 2.3, StrictForwardPorts=yes in "
                    "firewalld.conf refuses forwarded published ports no zone allows")


