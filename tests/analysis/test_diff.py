"""analysis/diff.py: the diff of two audit results, by stable keys, with exact set differences."""

from __future__ import annotations

import copy

from nflens.analysis.diff import diff_audits, finding_key, ranges_of, unchanged


def _port(port: int, reach: dict[str, list[str]], container: str | None = "web") -> dict:
    target = {"container": container, "addr": "172.17.0.2", "port": 80} if container \
        else {"process": "sshd"}
    return {"proto": "tcp", "host_addr": "0.0.0.0", "host_port": port, "target": target,
            "reachable_from": [{"iface": i, "sources": s} for i, s in reach.items()]}


def _finding(fid: str, subject: str, rules: list[tuple[int, str]]) -> dict:
    return {"id": fid, "severity": "high", "title": fid, "subject": subject,
            "rules": [{"file": "iptables-save.txt", "line": n, "text": t} for n, t in rules]}


def _audit(exposure=(), findings=(), egress=()) -> dict:
    return {"exposure": list(exposure), "findings": list(findings), "egress": list(egress)}


def test_a_rule_that_closes_part_of_a_port_loses_exactly_that_part():
    before = _audit([_port(22, {"eth0": ["0.0.0.0/0"], "eth1": ["10.0.0.0/8"]}, None)])
    # a new DROP for 10.1.0.0/16 on eth0 (the rest of the world still reaches it)
    after = _audit([_port(22, {"eth0": ["0.0.0.0/5", "8.0.0.0/7", "10.0.0.0/16",
                                        "10.2.0.0/15", "10.4.0.0/14", "10.8.0.0/13",
                                        "10.16.0.0/12", "10.32.0.0/11", "10.64.0.0/10",
                                        "10.128.0.0/9", "11.0.0.0/8", "12.0.0.0/6",
                                        "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2",
                                        "128.0.0.0/1"], "eth1": ["10.0.0.0/8"]}, None)])
    d = diff_audits(before, after)
    assert d["exposure"]["gained"] == []
    [lost] = d["exposure"]["lost"]
    assert lost["status"] == "changed" and lost["target"] == {"process": "sshd"}
    assert lost["from"] == [{"iface": "eth0", "sources": ["10.1.0.0/16"],
                             "readable": ["10.1.0.0/16"]}]


def test_a_container_published_is_a_new_port_gained_from_all_its_sources():
    before = _audit([_port(22, {"eth0": ["0.0.0.0/0"]}, None)])
    after = _audit([*before["exposure"], _port(8080, {"eth0": ["0.0.0.0/0"], "eth1": []})])
    d = diff_audits(before, after)
    [gained] = d["exposure"]["gained"]
    assert gained["status"] == "new" and gained["target"]["container"] == "web"
    assert gained["from"] == [{"iface": "eth0", "sources": ["0.0.0.0/0"],
                               "readable": ["0.0.0.0/0"]}]  # eth1: nothing, not listed
    assert d["exposure"]["lost"] == []
    back = diff_audits(after, before)  # and taken away again: the port is gone
    assert [e["status"] for e in back["exposure"]["lost"]] == ["removed"]


def test_minimal_cidrs_of_a_difference():
    before = _audit([_port(80, {"eth0": ["192.0.2.0/24"]})])
    after = _audit([_port(80, {"eth0": ["192.0.2.0/25", "192.0.2.128/26"]})])
    [lost] = diff_audits(before, after)["exposure"]["lost"]
    assert lost["from"][0]["sources"] == ["192.0.2.192/26"]
    # readable forms fill in what can never be a source (never) and say what is left out
    never = {4: [int(ranges_of(["192.0.2.255/32"])[4][0][0])]}
    [lost] = diff_audits(before, _audit([_port(80, {"eth0": ["192.0.2.255/32"]})]),
                         never)["exposure"]["lost"]
    assert lost["from"][0]["readable"] == ["192.0.2.0/24 (except 192.0.2.255)"]


def test_renumbered_rules_are_no_change_but_a_changed_rule_text_is():
    rule = "-A INPUT -p tcp --dport 22 -j ACCEPT"
    before = _audit(findings=[_finding("open-to-world", "tcp/22", [(12, rule)])])
    renumbered = _audit(findings=[_finding("open-to-world", "tcp/22", [(40, rule)])])
    assert unchanged(diff_audits(before, renumbered))
    edited = _audit(findings=[_finding("open-to-world", "tcp/22", [(12, rule + " -s 1.2.3.4")])])
    d = diff_audits(before, edited)["findings"]
    assert [f["rules"][0]["line"] for f in d["added"]] == [12]
    assert d["resolved"] == before["findings"]


def test_findings_added_and_resolved_by_id_and_subject():
    a, b = _finding("input-bypass", "tcp/8080", []), _finding("input-bypass", "tcp/9090", [])
    d = diff_audits(_audit(findings=[a]), _audit(findings=[b]))["findings"]
    assert d == {"added": [b], "resolved": [a]}
    assert finding_key(a) != finding_key(b)


def test_egress_destinations_gained_and_lost():
    e = {"network": "bridge", "container": "web", "proto": "tcp", "port": 443,
         "destinations": ["0.0.0.0/0"]}
    closed = dict(e, destinations=["0.0.0.0/1"])
    d = diff_audits(_audit(egress=[e]), _audit(egress=[closed]))["egress"]
    assert d["gained"] == [] and [x["destinations"] for x in d["lost"]] == [["128.0.0.0/1"]]


def test_the_same_audit_is_no_change():
    a = _audit([_port(80, {"eth0": ["10.0.0.0/8"]})], [_finding("x", "y", [(1, "r")])])
    assert unchanged(diff_audits(a, copy.deepcopy(a)))


def test_sources_that_became_uncertain_are_lost_and_named_uncertain():
    before = _audit([_port(80, {"eth0": ["10.0.0.0/8"]})])
    after = _audit([_port(80, {"eth0": ["10.0.0.0/9"]})])
    after["exposure"][0]["reachable_from"][0]["uncertain"] = {"sources": ["10.128.0.0/9"],
                                                              "because": ["xt:limit"]}
    d = diff_audits(before, after)["exposure"]
    assert d["lost"][0]["from"] == [{"iface": "eth0", "sources": ["10.128.0.0/9"],
                                     "readable": ["10.128.0.0/9"]}]
    assert d["gained"][0]["from"] == [{"iface": "eth0", "sources": [], "readable": [],
                                       "uncertain": ["10.128.0.0/9"]}]
