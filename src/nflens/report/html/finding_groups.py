"""The findings of an audit page, those that share one cause (`cause` in the JSON) as one
section, as the text report prints them (report/findings_text.py): 85 published ports stopped
by one DOCKER-USER rule are one section with the rule once, the ports as ranges, one example
explanation and every fix (collapsed), not 85 sections."""

from __future__ import annotations

from typing import Any

from nflens.report.findings_text import GROUP_NOUN, compact_subjects, in_groups
from nflens.report.html.page import esc


def findings_html(findings: list[dict[str, Any]], one) -> list[str]:
    """Every finding as `one(n, finding)` renders it, a group of one cause as one section."""
    return [_group(n, members, one) if members[0].get("cause") else one(n, members[0])
            for n, members in enumerate(in_groups(findings), 1)]


def _group(n: int, members: list[dict[str, Any]], one) -> str:
    first = members[0]
    noun, verb = GROUP_NOUN.get(first["id"], ("findings", "all involving"))
    fixes = list(dict.fromkeys(line for f in members for line in (f.get("fix") or "").splitlines()))
    verified = [f["fix_verified"] is True for f in members if f.get("fix_verified") is not None]
    shown = {**first, "title": f"{len(members)} {noun}: {first.get('title')}",
             "subject": compact_subjects([f["subject"] for f in members]),
             "explanation": f"{verb} the same rule(s). For example: {first.get('explanation')}",
             "fix": "", "fix_verified": None,
             "verification": (f"{sum(verified)} of {len(verified)} fixes verified: re-analysed "
                              "with the fix applied, the finding is gone") if verified else ""}
    section = one(n, shown)
    if fixes:
        body = (f"<details><summary><strong>Fixes</strong> ({len(fixes)} lines, one per "
                f"finding)</summary><pre>{esc(chr(10).join(fixes))}</pre></details>")
        section = section.replace("</section>", body + "</section>")
    return section
