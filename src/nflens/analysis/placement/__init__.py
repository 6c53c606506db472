"""Where a fix goes on this host, and in which language: one module per placement.

A finding says *what* its fix must do (analysis/intent.py: IR rules and their place in the
decision); a placement says *where and how*: the text the admin runs in the host's own language,
and the edits to the snapshot's IR that verify it (`Fix.edits` for iptables/ebtables, `Fix.nft`
for an nft script; audit applies them and re-runs the finding).

Each module declares `NAME`, `RANK` (lower is asked first), `owns(ctx, fix) -> bool` (it can
place every rule of the fix on this host) and `realize(ctx, fix, owner) -> Fix`; the package
finds them by itself and refuses a name or a rank twice (as kernel/matches does). `choose`
asks them in rank order: a firewall manager first (ufw, firewalld: what the admin's manager
does not know is lost at its next reload), then the dialect that really owns the packets' path
(iptables with Docker's DOCKER-USER; nftables where no iptables table is on the path).
Adding a placement is one module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING

from nflens.analysis.fixes import FORWARD_CHAIN, Fix

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext


def _discover() -> tuple[ModuleType, ...]:
    found: dict[str, ModuleType] = {}
    ranks: dict[int, str] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name, rank = module.NAME, module.RANK
        if name in found or rank in ranks:
            raise ImportError(f"placement {name!r} (rank {rank}) registered twice")
        found[name], ranks[rank] = module, name
    return tuple(sorted(found.values(), key=lambda m: m.RANK))


PLACEMENTS = _discover()


def by_name(name: str) -> ModuleType:
    for m in PLACEMENTS:
        if name == m.NAME:
            return m
    raise KeyError(name)


def choose(ctx: AuditContext, fix: Fix) -> ModuleType | None:
    """The placement that writes this fix on this host (None: none can; the fix's note says
    what to do)."""
    return next((m for m in PLACEMENTS if m.owns(ctx, fix)), None)


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    """The fix as the host's placement writes it; `owner` names the finding and subject (a
    placement that keeps one chain per fix names it after them)."""
    if not fix.rules:
        # a fix a module wrote as edits itself (a jail's action): the manager's form only
        return translate(ctx, fix)
    chosen = choose(ctx, fix)
    if chosen is None:
        # the rules for the host's own nft chains as advice, the others placed if they can be
        rest = [r for r in fix.rules if r.dialect != "nft"]
        if rest and len(rest) < len(fix.rules):
            return realize(ctx, replace(fix, rules=rest, note=fix.unplaced or fix.note,
                                        unplaced=""), owner)
        return Fix(note=fix.unplaced or fix.note)
    return chosen.realize(ctx, fix, owner)


def translate(ctx: AuditContext, fix: Fix) -> Fix:
    """A fix of DOCKER-USER inserts, written where the host's manager keeps rules (ufw's
    after.rules block, or firewalld's direct rules in mangle FORWARD; see those modules)."""
    managers = ctx.owners.managers
    if not managers or fix.shown or not fix.edits or not all(
            e.chain == FORWARD_CHAIN and e.table == "filter" and e.spec is not None
            and e.family in ("ip", "ip6") for e in fix.edits):
        return fix
    manager = by_name("ufw" if "ufw" in managers else "firewalld")
    return manager.translate(ctx, fix)


def in_forward_place(family: str, table: str, chain: str, origin: str) -> bool:
    """The chain is where this host's forward fixes go (DOCKER-USER of iptables): a rule the
    fix must beat there is beaten by a rule inserted before it."""
    return origin.startswith("iptables") and table == "filter" and chain == FORWARD_CHAIN \
        and family in ("ip", "ip6")
