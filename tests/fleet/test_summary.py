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


def test_without_a_majority_no_host_differs_and_the_variants_are_named():
    """Issue 29.8: "no majority" listed every host of the group as differing (from nothing)."""
    one = [("tcp", 1, "eth0", ["0.0.0.0/0"])]
    recs = [_rec("a", one), _rec("b"), _rec("c", one), _rec("d")]
    (g,) = groups(recs)
    assert g["norm"] is None and g["differ"] == []
    assert g["variants"] == [{"hosts": ["a", "c"], "exposure": ["tcp/1 eth0 internet"]},
                             {"hosts": ["b", "d"], "exposure": []}]


def test_a_group_with_a_majority_has_no_variants():
    recs = [_rec("a"), _rec("b"), _rec("c", [("tcp", 1, "eth0", ["0.0.0.0/0"])])]
    (g,) = groups(recs)
    assert "variants" not in g and [d["host"] for d in g["differ"]] == ["c"]


def test_a_broken_host_is_not_counted_as_audited():
    recs = [_rec("a"), _rec("b"), {"host": "z", "digest": "z", "error": "bad"}]
    s = summarise(recs)
    assert (s["hosts"], s["audited"], s["errors"], s["reused"]) == (3, 2, ["z"], 0)


def test_finding_counts_say_hosts_and_findings_apart():
    recs = [_rec("a", findings=[("unreachable", f"p{n}", "medium") for n in range(3)]),
            _rec("b", findings=[("unreachable", "p1", "medium")])]
    (f,) = summarise(recs)["findings"]
    assert (f["host_count"], f["count"], f["hosts"]) == (2, 4, ["a", "b"])


def test_the_text_summary_shows_broken_hosts_first_and_labels_the_counts():
    import io

    from rich.console import Console

    from nflens.cli.fleet import render

    recs = [_rec("a", findings=[("x", f"p{n}", "low") for n in range(3)]),
            {"host": "z", "digest": "z", "error": "z/ip-addr.json:1: invalid JSON"}]
    buf = io.StringIO()
    render(recs, summarise(recs), Console(file=buf, width=300, markup=False))
    lines = buf.getvalue().splitlines()
    assert lines[0] == "z: could not be audited: z/ip-addr.json:1: invalid JSON"
    assert "2 host(s): 1 audited, 1 could not be read" in buf.getvalue()
    rows = [line for line in lines if line.startswith("│")]
    assert rows[0].startswith("│ z ") and "could not be read" in rows[0]
    header = next(line for line in lines if "finding" in line and "severity" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == \
        ["finding", "severity", "hosts", "findings", "on"]
    assert any(line.startswith("│ x ") and "│ 1 " in line and "│ 3 " in line for line in lines)


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


def test_the_html_summary_shows_broken_hosts_first():
    from nflens.report.html.fleet_html import render_fleet_html

    recs = [_rec("a"), {"host": "z", "digest": "z", "error": "z/ip-addr.json:1: invalid JSON"}]
    page = render_fleet_html(recs, summarise(recs))
    assert page.index("Could not be read") < page.index("<h2>Ports</h2>")
    assert page.index('id="host-z"') < page.index('id="host-a"')
    assert "1 audited, 1 could not be read" in page
