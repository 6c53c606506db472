"""Issue 15.10: one readable rendering of source/destination lists everywhere (text and HTML
exposure, egress, finding texts), exact CIDRs in JSON; and the filter decision is what admits a
host service."""

from __future__ import annotations

import pytest

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO
from tests.inprocess import run_main

SNAP = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-broken"
LAN = "10.99.0.0/24 (except 10.99.0.1, 10.99.0.255)"
WAN = "198.51.100.0/24 (except 198.51.100.1, 198.51.100.255)"


@pytest.fixture(scope="module")
def host():
    return read_snapshot(SNAP)


@pytest.fixture(scope="module")
def result(host):
    return audit(host, verify=False)


def test_finding_texts_use_the_readable_source_list(result):
    texts = {f["id"]: f["explanation"] for f in result["findings"]}
    for fid in ("input-bypass", "direct-container-access"):
        assert f"eth0: {LAN}; eth1: {WAN}" in texts[fid]
        assert "10.99.0.0/32" not in texts[fid]


def test_egress_json_keeps_exact_cidrs_and_adds_the_readable_form(result):
    e = next(e for e in result["egress"] if e["port"] == 443)
    assert "10.99.0.0/32" in e["destinations"] and "10.99.0.2/31" in e["destinations"]
    assert e["readable"] == [LAN, WAN]


def test_the_text_egress_table_shows_the_readable_form(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    run = run_main("audit", "--snapshot", SNAP, "--no-verify")
    assert run.code == 0, run.err
    egress = run.out.split("Egress")[1].split("finding(s)")[0]
    assert f"{LAN}, {WAN}" in egress and "10.99.0.0/32" not in egress


def test_the_html_audit_shows_the_readable_form(host, result):
    from nflens.report.html.audit_html import render_audit_html

    page = render_audit_html(host, result)
    assert LAN in page
    assert "10.99.0.2/31" not in page.split("admitted by")[1].split("</table>")[0]


def test_a_host_service_is_admitted_by_the_filter_rule_not_the_nat_policy(result):
    sock = next(e for e in result["exposure"] if e["target"].get("process") == "busybox")
    eth0 = next(r for r in sock["reachable_from"] if r["iface"] == "eth0")
    rules = [a["rule"] for a in eth0["admitted_by"]]
    assert rules == ["iptables-save.txt:12 -A INPUT -i eth0 -p tcp -m tcp --dport 8000 -j ACCEPT"]


def test_listed_names_how_many_more():
    from nflens.analysis.partition import listed

    assert listed(["a", "b", "c"], 2) == "a, b (+1 more)"
    assert listed(["a"], 2) == "a" and listed([], 2) == ""


def test_readable_fills_only_addresses_that_can_never_be_there():
    from nflens.analysis.partition import readable

    lo = int.from_bytes(bytes([10, 0, 0, 0]), "big")
    hi = int.from_bytes(bytes([10, 0, 0, 255]), "big")
    one = lo + 1
    assert readable({4: [(lo, one - 1), (one + 1, hi)]},
                    {4: [one]}) == ["10.0.0.0/24 (except 10.0.0.1)"]
    assert readable({4: [(lo, one - 1), (one + 1, hi)]}) == \
        ["10.0.0.0/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28",
         "10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25"]
