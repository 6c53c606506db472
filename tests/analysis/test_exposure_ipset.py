"""Audit of a host port that a `-m set` rule guards (issue 25). Without ipset-save.txt the
sources are uncertain and said so, in JSON and in text, never an empty cell; with it they
are exact (the ban's nomatch carve-out admitted, the rest of the ban refused)."""

from __future__ import annotations

import ipaddress
import json
import shutil

from nflens.analysis.exposure import ExposureAnalysis
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO
from tests.inprocess import run_main

BASE = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-fixed"
RULE = "-A INPUT -i eth0 -p tcp -m tcp --dport 8000 -j ACCEPT"
BANNED = "-A INPUT -i eth0 -p tcp -m tcp --dport 8000 -m set ! --match-set ban src -j ACCEPT"
SAVE = ("create ban hash:net family inet hashsize 1024 maxelem 65536\n"
        "add ban 10.99.0.0/25\nadd ban 10.99.0.64/26 nomatch\n")


def _snapshot(tmp_path, with_save: bool):
    snap = tmp_path / "snap"
    shutil.copytree(BASE, snap)
    for extra in ("expected.json", "flows.json", "lab.json"):
        (snap / extra).unlink(missing_ok=True)
    rules = (snap / "iptables-save.txt").read_text()
    assert RULE in rules
    (snap / "iptables-save.txt").write_text(rules.replace(RULE, BANNED))
    if with_save:
        (snap / "ipset-save.txt").write_text(SAVE)
    return snap


def _run(*args: str) -> str:
    run = run_main(*args)
    assert run.traceback is None and run.code in (0, 1), (run.err, run.traceback)
    return run.out


def _busybox_eth0(audit: dict) -> dict:
    port = next(e for e in audit["exposure"] if e["host_port"] == 8000)
    return next(r for r in port["reachable_from"] if r["iface"] == "eth0")


def test_without_ipset_save_the_dual_stack_sockets_sources_are_uncertain_not_empty(tmp_path):
    snap = _snapshot(tmp_path, with_save=False)
    out = _run("audit", "--snapshot", str(snap), "--json")
    reach = _busybox_eth0(json.loads(out))
    assert reach["sources"] == []
    assert reach["uncertain"]["readable"] == ["10.99.0.0/24 (except 10.99.0.1, 10.99.0.255)"]
    assert any("ipset ban" in why for why in reach["uncertain"]["because"])
    text = _run("audit", "--snapshot", str(snap))
    assert "uncertain: 10.99.0.0/24" in text and "ipset ban" in " ".join(text.split())


def test_with_ipset_save_the_sources_are_exact(tmp_path):
    snap = _snapshot(tmp_path, with_save=True)
    out = _run("audit", "--snapshot", str(snap), "--json")
    reach = _busybox_eth0(json.loads(out))
    assert "uncertain" not in reach
    # banned: 10.99.0.0/25 except the nomatch 10.99.0.64/26; the host's own .1 never a source
    assert reach["sources"] == ["10.99.0.64/26", "10.99.0.128/26", "10.99.0.192/27",
                                "10.99.0.224/28", "10.99.0.240/29", "10.99.0.248/30",
                                "10.99.0.252/31", "10.99.0.254/32"]


def test_a_published_port_with_only_uncertain_sources_is_not_called_unreachable(tmp_path):
    snap = _snapshot(tmp_path, with_save=False)
    rules = (snap / "iptables-save.txt").read_text()
    guard = "-A DOCKER-USER -m set --match-set ban src -j DROP\n-A DOCKER-USER -j RETURN"
    assert "-A DOCKER-USER -j RETURN" in rules
    (snap / "iptables-save.txt").write_text(rules.replace("-A DOCKER-USER -j RETURN", guard))
    out = _run("audit", "--snapshot", str(snap), "--json")
    audit = json.loads(out)
    assert not [f for f in audit["findings"] if f["id"] == "unreachable-published-port"]
    port = next(e for e in audit["exposure"] if e["host_port"] == 8080)
    assert any(r.get("uncertain") for r in port["reachable_from"])


def test_exposure_refines_at_the_ipsets_networks(tmp_path):
    host = read_snapshot(_snapshot(tmp_path, with_save=True))
    analysis = ExposureAnalysis(host)
    sock = next(s for s in host.sockets if s.port == 8000)
    reach = {r.iface: r for r in analysis.socket(sock).reach}
    assert reach["eth0"].version_ranges[4][0][0] == int(ipaddress.ip_address("10.99.0.64"))


def test_egress_destinations_an_ipset_leaves_uncertain_are_listed_as_uncertain(tmp_path):
    """A DOCKER-USER `-m set --match-set blocked dst` drop without ipset-save.txt: the egress
    table showed every destination as unreachable ("-"), the uncertain ones dropped."""
    snap = _snapshot(tmp_path, with_save=False)
    rules = (snap / "iptables-save.txt").read_text()
    (snap / "iptables-save.txt").write_text(rules.replace(
        "-A DOCKER-USER -j RETURN",
        "-A DOCKER-USER -i docker0 -m set --match-set blocked dst -j DROP\n"
        "-A DOCKER-USER -j RETURN"))
    egress = json.loads(_run("audit", "--snapshot", str(snap), "--json"))["egress"]
    row = next(e for e in egress if e["port"] == 443)
    assert row["destinations"] == []
    assert row["uncertain"]["readable"] and any("ipset blocked" in w
                                                for w in row["uncertain"]["because"])
    text = " ".join(_run("audit", "--snapshot", str(snap)).split())
    assert "uncertain: 10.99.0.0/24" in text and "ipset blocked" in text
