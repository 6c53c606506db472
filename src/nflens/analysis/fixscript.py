"""One fix script for the host: every verified fix, once, in the host's own language, in an
order that is safe to run as one block — and verified as a whole (all edits applied together,
every finding re-run), since fixes that each work alone may not work together.

Order (iptables, per chain): the deletions first, from the bottom up (each keeps the positions
above it), then each fix's inserts with their positions carried from the chain they were
computed on to the chain as it is by then (minus the deleted rules above, plus the other fixes'
inserts above), then the appends. nft fixes are one here-document (placement/nft.py): the
tables, then every fix's own chains, then their rules; each line once. A manager's form (ufw's
after.rules block, firewalld's direct rules) is kept as its fix wrote it, its reload once at
the end: its fixes are not yet merged into one block of the manager's (each says where its
lines go), and the verification of the whole says whether they work together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nflens.analysis.fixes import Edit, Fix, apply, combine
from nflens.analysis.placement.nft import HEREDOC, PERSIST, at_line
from nflens.errors import NflensError

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext
    from nflens.analysis.findings import Finding

RELOADS = ("ufw reload", "firewall-cmd --reload")
NFT_ORDER = ("add table ", "add chain ", "flush chain ", "add rule ")  # then the inserts
# into the host's own chains (from the bottom of each chain up would keep indexes; one per
# chain is what the findings write today)


@dataclass
class Script:
    text: str
    fix: Fix
    findings: list[Finding]
    verified: bool | None = None
    verification: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "findings": [f"{f.id} {f.subject}" for f in self.findings],
                "verified": self.verified, "verification": self.verification}


def ordered(groups: list[list[Edit]]) -> list[Edit]:
    """The edits of several fixes as one safe sequence (see the module docstring).

    Fixes that only drop go first (`_drops_only`): each was verified with its rules seeing
    every packet, and a drop loses nothing by coming before another fix's rules; a fix that
    accepts (ufw's jump to its route rules, a RETURN for the intended sources) would let
    packets skip the drops placed after it. A rule another fix already inserts at the same
    place is inserted once, and still counts for the positions of its own fix's later rules
    (they were computed with it above them)."""
    groups = sorted(groups, key=lambda g: not _drops_only(g))
    deletes = sorted({e for g in groups for e in g if e.spec is None},
                     key=lambda e: -e.position)
    appends = list(dict.fromkeys(e for g in groups for e in g if e.spec is not None
                                 and not e.position))
    inserts: list[Edit] = []
    placed: list[tuple[Edit, int]] = []  # (edit as given, its position in the first chain)
    for group in groups:
        own: list[Edit] = []  # this fix's inserts so far, those another fix placed included
        mine: list[tuple[Edit, int]] = []  # the ones inserted here, at their first position
        for e in group:
            if e.spec is None or not e.position:
                continue
            key = (e.family, e.table, e.chain)
            first = e.position - sum(1 for m in own if (m.family, m.table, m.chain) == key
                                     and m.position <= e.position)
            own.append(e)
            if any(p == first and (x.family, x.table, x.chain, x.spec) == (*key, e.spec)
                   for x, p in placed):
                continue  # the same rule at the same place from another fix
            gone = sum(1 for d in deletes if (d.family, d.table, d.chain) == key
                       and d.position < first)
            others = sum(1 for x, p in placed if (x.family, x.table, x.chain) == key
                         and p <= first)
            ahead = sum(1 for m, _ in mine if (m.family, m.table, m.chain) == key)
            inserts.append(replace(e, position=first - gone + others + ahead))
            mine.append((e, first))
        placed += mine
    return deletes + inserts + appends


def _drops_only(group: list[Edit]) -> bool:
    return all(e.spec is None or e.spec.endswith(("-j DROP", "-j REJECT")) for e in group)


def build(findings: list[Finding], ctx: AuditContext | None = None) -> Script:
    """The script of the verified fixes; with `ctx`, several fixes in one manager's file (ufw's
    after.rules block) are written as that file's one block (the manager's `merged`)."""
    chosen = [f for f in findings if f.fix.verified and f.fix.checkable]
    fix = combine([f.fix for f in chosen])
    fix.edits = ordered([f.fix.edits for f in chosen])
    lines = [f"# nflens audit: {len(chosen)} verified fix(es), as one block"]
    lines += [f"#   {f.id}: {f.subject}" for f in chosen]
    shown = [f.fix for f in chosen if f.fix.shown and not (f.fix.nft or f.fix.nft_at)]
    plain = [f.fix.edits for f in chosen if not f.fix.shown]
    lines += list(dict.fromkeys(e.command() for e in ordered(plain)))
    reloads, blocks = [], []
    managed = [f for f in shown if f.manager and ctx is not None]
    if managed and ctx is not None:
        lines += _merged(ctx, fix, managed)
        reloads += [ln for f in managed for ln in f.shown.splitlines() if ln in RELOADS]
        shown = [f for f in shown if f not in managed]
    for f in shown:  # a manager's form as its fix wrote it (each block once), reloads last
        block = [ln for ln in f.shown.splitlines() if ln not in RELOADS]
        reloads += [ln for ln in f.shown.splitlines() if ln in RELOADS]
        if block not in blocks:
            blocks.append(block)
            lines += block
    if fix.nft or fix.nft_at:
        body = sorted(fix.nft.splitlines(), key=_nft_rank) + [at_line(*a) for a in fix.nft_at]
        families = sorted({ln.split()[2] for ln in body if ln.startswith("add table ")})
        lines += [HEREDOC, *body, "EOF"] + [PERSIST.format(fam=f) for f in families]
    lines += list(dict.fromkeys(reloads))
    return Script("\n".join(lines) + "\n" if chosen else "", fix, chosen)


def _merged(ctx: AuditContext, fix: Fix, managed: list[Fix]) -> list[str]:
    """The managers' forms as one block each, written from the host with every edit made."""
    from nflens.analysis.placement import by_name

    fixed = apply(ctx.host, fix)
    out: list[str] = []
    for name in dict.fromkeys(f.manager for f in managed):
        out += by_name(name).merged(ctx, fixed, [f for f in managed if f.manager == name])
    return out


def _nft_rank(line: str) -> int:
    return next((i for i, p in enumerate(NFT_ORDER) if line.startswith(p)), len(NFT_ORDER))


Remaining = Callable[["AuditContext", list["Finding"]], dict[str, str]]


def verify(ctx: AuditContext, script: Script, remaining: Remaining) -> None:
    """All the script's edits applied at once, every fixed finding judged again on that host
    (`remaining(fixed_ctx, findings)`: subject -> what is still wrong)."""
    if not script.findings:
        script.verification = "no verified fix to merge"
        return
    try:
        left = remaining(ctx, script.findings)
    except NflensError as exc:
        script.verified, script.verification = False, f"could not apply: {exc}"
        return
    script.verified = not left
    script.verification = (
        f"re-analysed with all {len(script.findings)} fixes applied together: every finding "
        "is gone" if not left else "re-analysed with all fixes applied together: still "
        + "; ".join(f"{s}: {why}" for s, why in left.items()))
