"""The fleet summary as a pure function of host records."""

from __future__ import annotations

from nflens.fleet.summary import changes, groups, ports, reaches_internet, summarise


def _rec(host, exposure=(), findings=(), group="web"):
    return {"host": host, "digest": host, "group": group, "group_from": "label",
            "exposure": [{"proto": p, "host_addr": "0.0.0.0", "host_port": port,
                          "reachable_from": [{"iface": i, "sources": list(s)}]}
                         for p, port, i, s in exposure],
            "findings": [{"id": i, "subject": s, "severity": sev} for i, s, sev in findings]}


def test_internet_is_anything_outside_local_space():
    assert reaches_internet(["0.0.0.0/0"])
    assert reaches_internet(["198.51.100.2/32"])  # documentation space stands for the internet
    assert not reaches_internet(["10.0.0.0/8", "192.168.1.0/24", "127.0.0.1/32"])
    assert reaches_internet(["172.0.0.0/8"])  # 172.16/12 is private, the rest of 172/8 is not
    assert not reaches_internet(["fd00::/8", "fe80::/64"])
    assert reaches_internet(["2001:db8::/32"])
    assert not reaches_internet([])


def test_ports_name_the_hosts_reachable_at_all_and_from_the_internet():
    recs = [_rec("a", [("tcp", 80, "eth0", ["0.0.0.0/0"])]),
            _rec("b", [("tcp", 80, "eth0", ["10.0.0.0/8"]), ("tcp", 22, "eth0", [])])]
    assert ports(recs) == [{"port": "tcp/80", "hosts": ["a", "b"], "internet": ["a"]}]


def test_a_host_that_differs_from_its_group_majority_is_named_with_the_difference():
    web = [("tcp", 443, "eth0", ["10.0.0.0/8"])]
    recs = [_rec("a", web), _rec("b", web),
            _rec("c", web + [("tcp", 8080, "eth0", ["0.0.0.0/0"])])]
    (g,) = groups(recs)
    assert g["norm"] == ["tcp/443 eth0 local"]
    assert g["differ"] == [{"host": "c", "extra": ["tcp/8080 eth0 internet"], "missing": []}]


def test_without_a_majority_every_host_of_the_group_is_listed():
    recs = [_rec("a", [("tcp", 1, "eth0", ["0.0.0.0/0"])]), _rec("b")]
    (g,) = groups(recs)
    assert g["norm"] is None and [d["host"] for d in g["differ"]] == ["a", "b"]


def test_groups_are_compared_apart():
    recs = [_rec("a", group="x"), _rec("b", [("tcp", 1, "eth0", ["0.0.0.0/0"])], group="y")]
    assert [g["differ"] for g in groups(recs)] == [[], []]


def test_changes_since_an_earlier_run():
    before = {"a": _rec("a", findings=[("input-bypass", "p80", "high")]),
              "b": _rec("b"), "gone": _rec("gone")}
    now = [_rec("a", [("tcp", 80, "eth1", ["0.0.0.0/0"])]),
           {"host": "b", "digest": "x", "error": "b/ip-addr.json:1: invalid JSON"},
           _rec("new")]
    ch = changes(now, before, "old")
    assert ch["new_hosts"] == ["new"] and ch["gone_hosts"] == ["gone"]
    a, b = ch["hosts"]
    assert a == {"host": "a", "resolved_findings": [{"id": "input-bypass", "subject": "p80"}],
                 "exposure_added": ["tcp/80 on 0.0.0.0 via eth1 from 0.0.0.0/0"]}
    assert b["error"] == {"before": None, "now": "b/ip-addr.json:1: invalid JSON"}


def test_summary_keeps_errors_out_of_the_answers():
    recs = [_rec("a", findings=[("x", "s", "low")]), {"host": "z", "digest": "z", "error": "bad"}]
    s = summarise(recs)
    assert s["errors"] == ["z"] and s["findings"][0]["hosts"] == ["a"]
    assert s["changes"] is None and s["hosts"] == 2
