"""The findings of an audit as text: one block per finding, and one block per group of findings
that share one cause (`cause` in the JSON, analysis/baseline.py).

Why groups: a host whose DOCKER-USER ends in `-j DROP` has one problem, not 85 — yet each
published port behind that rule is its own finding (its own subject, fix and verification, which
scripts read from --json). Printed one by one that was 2,185 near-identical lines; as a group it
is the shared rule once, the subjects in one compact line, one example explanation and the fixes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from rich.console import Console

from nflens.report.console import join, literal

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
# How a group's headline reads, per finding id: "{n} published ports stopped by one rule".
GROUP_NOUN = {"unreachable-published-port": ("published ports", "all stopped by"),
              "input-bypass": ("published ports", "all through"),
              "nat-filter-proxy-bypass": ("published ports", "all through"),
              "direct-container-access": ("containers", "all through")}
FIXES_SHOWN = 5
_PUBLISHED = re.compile(r"^(?P<proto>\w+)/(?P<addr>.+):(?P<port>\d+)->(?P<name>.+):(?P<cport>\d+)$")


def in_groups(findings: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The findings as shown: one list per finding, the findings of one cause in one list,
    where the first of them is."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out: list[list[dict[str, Any]]] = []
    for f in findings:
        key = f.get("cause", {}).get("key")
        if key is None:
            out.append([f])
            continue
        if key not in groups:
            out.append(groups[key])
        groups[key].append(f)
    return out


def render_findings(findings: list[dict[str, Any]], out: Console) -> None:
    """Every finding, those of one cause together (where the first of them is)."""
    shown = in_groups(findings)
    groups = [g for g in shown if g[0].get("cause")]
    head = f"{len(findings)} finding(s)"
    if groups:
        head += (f" ({sum(len(g) for g in groups)} of them in {len(groups)} group(s) sharing "
                 "one cause)")
    out.print()
    out.print(literal(head, "bold"))
    for n, members in enumerate(shown, 1):
        if members[0].get("cause"):
            render_group(n, members, out)
        else:
            render_finding(n, members[0], out)


def render_finding(n: int, f: dict[str, Any], out: Console) -> None:
    out.print()
    out.print(join(f"{n}. ", literal(f["severity"].upper(), SEVERITY_STYLE.get(f["severity"], "")),
                   f" {f['title']} ", literal(f"({f['id']}: {f['subject']})", "dim")))
    out.print(literal(f"   {f['explanation']}", lines=True))
    _rules(f["rules"], out)
    if f["fix"]:
        out.print("   fix:")
        for line in f["fix"].splitlines():
            out.print(literal(f"     {line}"))
    if f["fix_verified"] is not None:
        mark = "verified" if f["fix_verified"] else "NOT verified"
        out.print(literal(f"   {mark}: {f['verification']}", "dim"))


def render_group(n: int, members: list[dict[str, Any]], out: Console) -> None:
    """One block for findings of one id and the very same rules."""
    first = members[0]
    noun, verb = GROUP_NOUN.get(first["id"], ("findings", "all involving"))
    sev = first["severity"]
    out.print()
    out.print(join(f"{n}. ", literal(sev.upper(), SEVERITY_STYLE.get(sev, "")),
                   f" {len(members)} {noun}: {first['title']} ",
                   literal(f"({first['id']}, one cause)", "dim")))
    out.print(literal(f"   {verb} the same rule(s):"))
    _rules(first["rules"], out)
    out.print(literal(f"   {noun}: {compact_subjects([f['subject'] for f in members])}"))
    out.print(literal(f"   e.g. {first['explanation']}", lines=True))
    fixes = list(dict.fromkeys(line for f in members for line in (f["fix"] or "").splitlines()))
    if fixes:
        out.print("   fix:")
        for line in fixes[:FIXES_SHOWN]:
            out.print(literal(f"     {line}"))
        if len(fixes) > FIXES_SHOWN:
            out.print(literal(f"     ... {len(fixes) - FIXES_SHOWN} more lines like these "
                              "(every fix of each finding is in --json)", "dim"))
    verified = [f["fix_verified"] for f in members if f["fix_verified"] is not None]
    if verified:
        out.print(literal(f"   verified: {sum(verified)} of {len(verified)} fixes re-analysed "
                          "with the fix applied: the finding is gone"
                          + ("" if all(verified) else " (see --json for the others)"), "dim"))


def _rules(rules: list[dict[str, Any]], out: Console) -> None:
    for r in rules:
        line = literal(f"   rule {r['file']}:{r['line']}  {r['text']}")
        if r.get("owner"):
            tail = " — ".join(x for x in (r.get("owner_says"), r.get("owner_config")) if x)
            line.append_text(literal(f"  ({r['owner']}{': ' + tail if tail else ''})", "dim"))
        out.print(line)


def compact_subjects(subjects: list[str]) -> str:
    """Published-port subjects as port ranges and container names ("tcp/0.0.0.0:20115-20199
    -> c115, c116 ... (85 containers) :80"); any other subjects joined as they are."""
    parsed = [m for s in subjects if (m := _PUBLISHED.match(s))]
    if len(parsed) != len(subjects):
        return ", ".join(subjects)
    by_kind: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for m in parsed:
        by_kind[(m["proto"], m["addr"], m["cport"])].append((int(m["port"]), m["name"]))
    parts = []
    for (proto, addr, cport), items in by_kind.items():
        items.sort()
        names = list(dict.fromkeys(name for _, name in items))
        shown = ", ".join(names[:6]) + (f" ... ({len(names)} containers)" if len(names) > 6 else "")
        parts.append(f"{proto}/{addr}:{_ranges([p for p, _ in items])} -> {shown} :{cport}")
    return "; ".join(parts)


def _ranges(ports: list[int]) -> str:
    """Sorted ports as `a-b, c` runs."""
    runs: list[list[int]] = []
    for p in ports:
        if runs and p <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], p)
        else:
            runs.append([p, p])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)
