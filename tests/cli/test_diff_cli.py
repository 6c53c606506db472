"""`nflens diff BEFORE AFTER` (CONTRACT §6) on real snapshots: the lab's broken and fixed
variants of a scenario, a rule added by hand, tarballs, --json, --html and bad input."""

from __future__ import annotations

import json

from nflens.snapshot.archive import write_tar
from tests.inprocess import LAB, lab_copy, run_main

BROKEN, FIXED = LAB / "seed001_input_bypass-broken", LAB / "seed001_input_bypass-fixed"


def _json(*args) -> dict:
    run = run_main(*args)
    assert run.code == 0 and run.traceback is None, run.err
    return json.loads(run.out)


def _probes(snap) -> dict[str, str]:
    return {k: v[0]["outcome"] for k, v in json.loads((snap / "lab.json").read_text())
            ["probes"].items()}


def test_the_exposure_lost_is_exactly_what_the_lab_fix_closed():
    # on the real kernel (lab.json's probes) the fix closed wan-web and nothing else
    closed = [k for k, v in _probes(BROKEN).items() if v == "allow" and
              _probes(FIXED)[k] == "deny"]
    flows = {f["name"]: f for f in json.loads((FIXED / "flows.json").read_text())["flows"]}
    assert closed == ["wan-web"]
    iface, port = flows["wan-web"]["from"]["iface"], flows["wan-web"]["to"]["port"]
    before = _json("audit", "--snapshot", BROKEN, "--json", "--no-verify")
    [was] = [e for e in before["exposure"] if e["host_port"] == port and
             e["host_addr"] == "0.0.0.0"]
    d = _json("diff", BROKEN, FIXED, "--json")
    assert d["exposure"]["gained"] == []
    [lost] = d["exposure"]["lost"]
    assert (lost["proto"], lost["host_port"], lost["target"]) == ("tcp", port, was["target"])
    # every source that could reach it on that interface, and only that interface
    was_there = {r["iface"]: r["sources"] for r in was["reachable_from"]}
    assert [(r["iface"], r["sources"]) for r in lost["from"]] == [(iface, was_there[iface])]
    assert [f["id"] for f in d["findings"]["resolved"]] == ["input-bypass"]


def test_a_rule_added_by_hand_that_closes_a_port(tmp_path):
    after = lab_copy(tmp_path)
    rules = after / "iptables-save.txt"
    text = rules.read_text()
    rules.write_text(text.replace("-A INPUT -i eth0 -p tcp -m tcp --dport 8000 -j ACCEPT",
                                  "-A INPUT -s 10.99.0.128/25 -j DROP\n"
                                  "-A INPUT -i eth0 -p tcp -m tcp --dport 8000 -j ACCEPT"))
    d = _json("diff", BROKEN, after, "--json")
    lost = {(e["host_port"], r["iface"]): r["sources"] for e in d["exposure"]["lost"]
            for r in e["from"]}
    # the host service on 8000 (eth0 only) loses the upper half of the LAN, less .255 which
    # was never a source (the subnet's broadcast); the published 8080 goes through FORWARD
    assert lost == {(8000, "eth0"): ["10.99.0.128/26", "10.99.0.192/27", "10.99.0.224/28",
                                     "10.99.0.240/29", "10.99.0.248/30", "10.99.0.252/31",
                                     "10.99.0.254/32"]}
    text_run = run_main("diff", BROKEN, after)
    assert text_run.code == 0
    assert "Exposure lost (1)" in text_run.out and "eth0: 10.99.0.128/25 (except 10.99.0.255)" \
        in text_run.out


def test_tarballs_and_the_same_snapshot_twice(tmp_path):
    tar = write_tar(BROKEN, tmp_path / "before.tar.gz")
    d = _json("diff", tar, BROKEN, "--json")
    assert d["exposure"] == {"gained": [], "lost": []}
    assert d["findings"] == {"added": [], "resolved": []}
    run = run_main("diff", tar, BROKEN)
    assert run.code == 0 and "no change" in run.out


def test_html_page_lists_both_sides(tmp_path):
    page = tmp_path / "diff.html"
    run = run_main("diff", BROKEN, FIXED, "--html", page)
    assert run.code == 0, run.err
    html = page.read_text()
    assert 'id="exposure-lost"' in html and "198.51.100.0/24 (except" in html
    assert 'id="findings-resolved"' in html and "input-bypass" in html
    assert "<script" not in html


def test_bad_input_is_exit_2_without_traceback(tmp_path):
    for args in (("diff", BROKEN, tmp_path / "missing"), ("diff", BROKEN)):
        run = run_main(*args)
        assert run.code == 2 and run.traceback is None, run.err
    bad = lab_copy(tmp_path)
    (bad / "ip-addr.json").write_text("[{")
    run = run_main("diff", BROKEN, bad)
    assert run.code == 2 and run.traceback is None and "ip-addr.json" in run.err
