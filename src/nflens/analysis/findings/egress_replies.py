"""An egress block that also blocks replies (seed 003).

`-A DOCKER-USER -s 172.16.0.0/12 -j REJECT` is meant to stop containers from opening
connections, but FORWARD sees every packet a container sends — including the answers of the
connections the world opens to its published ports. The fix lets established and related
packets through first (or restricts the block to `--ctdir ORIGINAL` / `--ctstate NEW`)."""

from __future__ import annotations

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import act, at_nft, ct, forward, state
from nflens.analysis.obstacles import obstacles
from nflens.analysis.obstacles import questions as questions  # what `detect` asks
from nflens.analysis.placement import in_forward_place

ID = "egress-blocks-replies"
SEVERITY = "high"
TITLE = "A rule blocking container egress also blocks replies to published ports"


def detect(ctx: AuditContext) -> list[Finding]:
    seen: dict[str, Finding] = {}
    scopes: dict[str, set[str]] = {}  # each finding's scope, the same set
    for p in ctx.published:
        found = obstacles(ctx, p)
        if found is None or found.verdict != "deny":
            continue
        for blk in found.blockers:
            if blk.direction != "reply":
                continue
            key = f"{blk.family} {blk.table} {blk.chain} {blk.text}"
            if key in seen:
                seen[key].explanation += f"; and {p.subject()}"
                scopes[key].add(p.subject())
                continue
            explanation = (f"`{blk.text}` ({blk.file}:{blk.line}) stops the answers {p.name} sends "
                           f"back on connections to its published port: {p.subject()}")
            if in_forward_place(blk.family, blk.table, blk.chain, blk.origin) and blk.index:
                fix = Fix(rules=[forward(blk.family, ct(state("RELATED,ESTABLISHED")),
                                         act("return"), position=blk.index)], topic="ctdir")
            elif blk.origin == "nft":
                fix = Fix(rules=[at_nft(blk.family, blk.table, blk.chain, blk.index,
                                        ct(state("ESTABLISHED,RELATED")), act("accept"))],
                          unplaced=f"nft insert rule {blk.family} {blk.table} {blk.chain} "
                                   "ct state established,related accept")
            else:
                fix = Fix(note=f"nft insert rule {blk.family} {blk.table} {blk.chain} "
                               "ct state established,related accept")
            scopes[key] = {p.subject()}
            seen[key] = Finding(ID, SEVERITY, TITLE, key, explanation, [blk.ref()], fix,
                                scope=scopes[key])
    return list(seen.values())
