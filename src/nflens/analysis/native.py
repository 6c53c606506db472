"""Explanations in the host firewall manager's own language (ufw, firewalld): the manager's
rules that mean to admit a published port, and why they do not apply to it.

The admin reads the manager's rules, not the INPUT chain, so a finding names the manager's rule.
Where the manager keeps the fix is the placement's (analysis/placement/ufw.py, firewalld.py).
"""

from __future__ import annotations

import re

from nflens.analysis.context import AuditContext, Published
from nflens.analysis.owners import Owner

BLOCK_BEGIN = "# BEGIN NFLENS DOCKER-USER (written by nflens audit; ufw reloads it)"
BLOCK_END = "# END NFLENS DOCKER-USER"


def admitting_owners(ctx: AuditContext, p: Published) -> list[tuple[str, Owner | None]]:
    """The rules that admit the port's intended sources, with their owners."""
    out = []
    for ref in ctx.intended_by(p):
        where, _, text = ref.partition(" ")
        file, _, line = where.rpartition(":")
        owner = ctx.owners.at(file, int(line)) if line.isdigit() else None
        out.append((text or ref, owner))
    return out


def manager_terms(ctx: AuditContext, p: Published) -> str:
    """One sentence naming the manager's rules that mean to admit this port (or that none does)."""
    managers = ctx.owners.managers
    if not managers:
        return ""
    named = [f"`{o.says}` ({o.config})" for _, o in admitting_owners(ctx, p)
             if o is not None and o.kind in managers and o.says]
    b = p.binding
    if named:
        return (f"{' and '.join(managers)} admits {b.proto}/{b.host_port} only as "
                f"{'; '.join(named)}, but {' and '.join(managers)}'s rules for incoming "
                "connections apply to the host's own services: a published port's connections "
                "are forwarded to the container and never meet them.")
    text = (f"{' and '.join(managers)} admits nobody on {b.proto}/{b.host_port} (its default "
            "policy), but a published port's connections are forwarded to the container and "
            f"never meet {' and '.join(managers)}'s rules for incoming connections.")
    speaking = _speaking_of(ctx, p, managers)
    if speaking:
        text += (" Its rules that name the port admit nobody where the connections arrive: "
                 + "; ".join(f"`{o.says}` ({o.config})" for o in speaking) + ".")
    return text


def _speaking_of(ctx: AuditContext, p: Published, managers: tuple[str, ...]) -> list[Owner]:
    """The managers' rules that name this port (a rich rule in another zone, say)."""
    pattern = re.compile(rf"dport {p.binding.host_port}\b")
    out: dict[str, Owner] = {}
    for t in ctx.host.ruleset.tables:
        for c in t.chains:
            for r in c.rules:
                owner = ctx.owners.of(r) if pattern.search(r.text) else None
                if owner is not None and owner.kind in managers and owner.says:
                    out.setdefault(owner.says, owner)
    return list(out.values())


