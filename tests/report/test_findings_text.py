"""Findings that share one cause (issue 29.5): the 400-container bench host has 85
`unreachable-published-port` findings, all stopped by one `-A DOCKER-USER -j DROP`. The JSON
keeps each finding (ids and fields unchanged) and marks the shared cause; the text prints them
as one group instead of 85 blocks (2,185 lines before)."""

from __future__ import annotations

import io
import json
import sys
from functools import cache
from pathlib import Path

import pytest
from rich.console import Console

from nflens.report.findings_text import compact_subjects, render_findings
from tests.inprocess import run_main

BENCH = Path(__file__).resolve().parents[2] / "bench"
ARCHIVE = BENCH / "hosts" / "docker20.10.24-400c-10n-200p.tar.xz"
FIELDS = {"id", "severity", "title", "subject", "explanation", "rules", "fix", "fix_verified",
          "verification"}


@cache
def _bench_audit() -> dict:
    sys.path.insert(0, str(BENCH))
    import realhosts

    run = run_main("audit", "--snapshot", realhosts.unpacked(ARCHIVE), "--json", "--jobs", "2")
    assert run.code == 0, run.err
    return json.loads(run.out)


def _text(findings: list[dict]) -> str:
    buf = io.StringIO()
    render_findings(findings, Console(file=buf, width=10_000, markup=False, soft_wrap=True))
    return buf.getvalue()


@pytest.mark.skipif(not ARCHIVE.exists(), reason="no lab-built bench host")
def test_the_bench_hosts_85_blocked_ports_are_one_cause_in_json():
    blocked = [f for f in _bench_audit()["findings"] if f["id"] == "unreachable-published-port"]
    assert len(blocked) == 85
    assert all(set(f) == FIELDS | {"cause"} for f in blocked)  # nothing removed
    assert {f["cause"]["key"] for f in blocked} == {blocked[0]["cause"]["key"]}
    assert {f["cause"]["findings"] for f in blocked} == {85}
    assert "cause" not in next(f for f in _bench_audit()["findings"] if f["id"] != blocked[0]["id"])


@pytest.mark.skipif(not ARCHIVE.exists(), reason="no lab-built bench host")
def test_the_bench_hosts_85_blocked_ports_print_as_one_group():
    text = _text(_bench_audit()["findings"])
    assert text.count("Published port unreachable from every interface") == 1
    assert "85 published ports: Published port unreachable" in text
    assert "rule iptables-save.txt:399  -A DOCKER-USER -j DROP" in text
    assert "tcp/0.0.0.0:20115-20199 -> c115, c116" in text and "(85 containers) :80" in text
    assert "verified: 85 of 85 fixes" in text
    assert len(text.splitlines()) < 40


def _finding(subject: str, rules: list[dict], fix: str = "") -> dict:
    return {"id": "unreachable-published-port", "severity": "medium", "title": "T",
            "subject": subject, "explanation": f"about {subject}", "rules": rules, "fix": fix,
            "fix_verified": True, "verification": "ok"}


def test_a_group_lists_its_fixes_up_to_five_and_counts_the_rest():
    from nflens.analysis.baseline import group_causes

    rule = [{"file": "iptables-save.txt", "line": 9, "text": "-A DOCKER-USER -j DROP"}]
    found = group_causes([_finding(f"tcp/0.0.0.0:{p}->c{p}:80", rule, f"fix {p}")
                          for p in range(1, 9)] + [_finding("udp/0.0.0.0:53->dns:53", [])])
    text = _text(found)
    assert "9 finding(s) (8 of them in 1 group(s) sharing one cause)" in text
    assert "fix 5" in text and "fix 6" not in text and "... 3 more lines like these" in text
    assert "2. MEDIUM T (unreachable-published-port: udp/0.0.0.0:53->dns:53)" in text


def test_compact_subjects_makes_port_ranges_and_keeps_other_subjects_whole():
    subjects = [f"tcp/0.0.0.0:{p}->c{p}:80" for p in (5, 1, 2, 3, 7)]
    assert compact_subjects(subjects) == "tcp/0.0.0.0:1-3, 5, 7 -> c1, c2, c3, c5, c7 :80"
    assert compact_subjects(["network a", "network b"]) == "network a, network b"


def test_the_html_page_shows_a_group_as_one_section_with_every_fix():
    from nflens.analysis.baseline import group_causes
    from nflens.report.html.audit_html import finding_html
    from nflens.report.html.finding_groups import findings_html

    rule = [{"file": "iptables-save.txt", "line": 9, "text": "-A DOCKER-USER -j DROP"}]
    found = group_causes([_finding(f"tcp/0.0.0.0:{p}->c{p}:80", rule, f"fix {p}")
                          for p in range(1, 9)] + [_finding("udp/0.0.0.0:53->dns:53", [])])
    sections = findings_html(found, finding_html)
    assert len(sections) == 2
    group = sections[0]
    assert "8 published ports: T" in group and group.count("<section") == 1
    assert "tcp/0.0.0.0:1-8 -&gt; c1, c2" in group
    assert all(f"fix {p}" in group for p in range(1, 9))  # every fix, collapsed
    assert "8 of 8 fixes verified" in group
