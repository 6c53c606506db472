"""The HTML reports as text: deciding rule highlighted, both directions, NAT labels, escaping,
no external resource."""

from __future__ import annotations

import dataclasses
import re

from nflens.report.html import render_trace_html
from nflens.report.html.audit_html import render_audit_html
from nflens.report.html.hookgraph import Graph, path_of
from tests.conftest import REPO

EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.I)


def _no_external(page: str) -> None:
    # the only http(s) URL allowed is the SVG namespace, which loads nothing
    stripped = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in stripped and "https://" not in stripped
    assert not EXTERNAL.search(stripped)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page


def test_denied_trace_highlights_the_deciding_rule(denied):
    host, result, change = denied
    page = render_trace_html(result, host, change)
    assert page.startswith("<!DOCTYPE html>")
    # the summary callout, the SVG callout and the trace line all name file:line and the text
    text = "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080 -j DROP"
    assert 'id="decider-summary"' in page and 'id="decider-callout"' in page
    assert page.count("iptables-save.txt:24") >= 3
    assert page.count(text) >= 3
    li = re.search(r'<li class="[^"]*decider"[^>]*id="decider">(.*?)</li>', page, re.S)
    assert li and "iptables-save.txt:24" in li.group(1) and text in li.group(1)
    # the base chain that held it (filter FORWARD) is outlined in the hook graph
    assert 'id="decider-row"' in page
    row = page.split('id="decider-row"', 1)[1][:600]
    assert "filter FORWARD" in row
    assert "DNAT (rule): 198.51.100.1:8080 → 172.17.0.2:80" in page
    _no_external(page)


def test_allowed_trace_draws_both_directions_with_nat(allowed):
    host, result, change = allowed
    assert result.verdict == "allow"
    page = render_trace_html(result, host, change)
    assert 'class="p-orig"' in page and 'class="p-reply"' in page
    assert 'data-direction="original"' in page and 'data-direction="reply"' in page
    assert "DNAT (rule): 10.99.0.1:80 → 172.17.0.2:8080" in page
    assert "SRCNAT (conntrack): 172.17.0.2:8080 → 10.99.0.1:80" in page
    assert "Original direction" in page and "Reply direction" in page
    assert page.count("<details open") >= 4
    assert 'id="decider-row"' not in page  # allowed: nothing decided against it
    _no_external(page)


def test_path_follows_the_hooks(allowed):
    host, result, _ = allowed
    graph = Graph(host.ruleset, result.steps, result)
    drawn = set(graph.boxes)
    orig = path_of(result.steps, "original", drawn)
    reply = path_of(result.steps, "reply", drawn)
    assert orig[:5] == ["ip:in", "ip:prerouting", "ip:route", "ip:forward", "ip:postrouting"]
    assert orig[-1] == "br:out"
    assert reply[0] == "br:in" and reply[-1] == "ip:out"
    assert "ip:forward" in reply


def test_hook_boxes_list_base_chains_in_priority_order(allowed):
    host, result, _ = allowed
    graph = Graph(host.ruleset, result.steps, result)
    pre = graph.boxes["ip:prerouting"].rows
    prios = [int(r[2]) for r in pre]
    assert prios == sorted(prios)
    assert pre[0][1] == "conntrack"  # the conntrack pseudo-row at -200
    nat = [r for r in pre if r[1] == "nat PREROUTING"][0]
    assert "iptables-nft" in nat[3] and nat[3].startswith("docker ")
    assert graph.lanes[0][0] == "ip" and any(lane[0] == "br" for lane in graph.lanes)


def test_rule_text_is_escaped(denied):
    host, result, change = denied
    evil = "-A DOCKER-USER -m comment --comment \"<script>alert('x')</script>\" -j DROP"
    ref = result.stopped_at
    src = dataclasses.replace(ref.rule.source, text=evil)
    rule = dataclasses.replace(ref.rule, source=src)
    result = dataclasses.replace(result, stopped_at=dataclasses.replace(ref, rule=rule),
                                 steps=[dataclasses.replace(s, rule=evil)
                                        if getattr(s, "rule", None) == ref.rule.text else s
                                        for s in result.steps])
    page = render_trace_html(result, host, None)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_audit_page(audited):
    host, result = audited
    result = dict(result)
    findings = [dict(f) for f in result["findings"]]
    findings[0]["explanation"] = "<script>alert(1)</script> & more"
    result["findings"] = findings
    page = render_audit_html(host, result)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert 'id="hostgraph"' in page
    for name in ("docker0", "tomcat", "172.17.0.2", "eth0", "eth1"):
        assert name in page
    assert "published 0.0.0.0:80 → 8080/tcp" in page
    assert "tcp/0.0.0.0:80" in page  # the exposure table, one row group per published port
    assert page.count('class="finding sev-') == len(findings)
    assert "✔ verified" in page
    assert "iptables -I DOCKER-USER 1 -p tcp -m conntrack --ctorigdstport 80" in page
    _no_external(page)


def _nflens(*args: str):
    import os
    import subprocess
    import sys

    from tests.report.conftest import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_trace_and_audit_cli_write_html(tmp_path):
    from tests.report.conftest import EXAMPLE, SEED004

    out = tmp_path / "t.html"
    res = _nflens("trace", "--snapshot", str(EXAMPLE), "--from", "eth1:198.51.100.2", "--to",
                  "198.51.100.1:8080/tcp", "--html", str(out))
    assert res.returncode == 0, res.stderr
    assert 'id="hookgraph"' in out.read_text(encoding="utf-8")
    out = tmp_path / "a.html"
    res = _nflens("audit", "--snapshot", str(SEED004), "--html", str(out), "--no-verify")
    assert res.returncode == 0, res.stderr
    assert 'id="hostgraph"' in out.read_text(encoding="utf-8")


def test_an_unwritable_html_path_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    base = [sys.executable, "-m", "nflens"]
    snap = ["--snapshot", "examples/snapshot-example"]
    for args in (["trace", *snap, "--from", "eth1:198.51.100.2", "--to", "198.51.100.1:8080/tcp",
                  "--html", str(tmp_path / "no" / "x.html")],
                 ["audit", *snap, "--no-verify", "--html", str(tmp_path / "no" / "a.html")]):
        proc = subprocess.run(base + args, capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 2, proc.stderr
        assert "cannot write the HTML report" in proc.stderr and "Traceback" not in proc.stderr
