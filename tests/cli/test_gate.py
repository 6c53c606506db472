"""`--fail-on`, `--baseline`, `--write-baseline` (CONTRACT §6, issue 29.5) on `audit`,
`policy plan` and `fleet audit`: an answer a script can act on, and accepted findings that stay
accepted when the rules around them move."""

from __future__ import annotations

import json

import pytest

from nflens.analysis.baseline import Baseline, at_or_above, fingerprint, group_causes, parse
from nflens.analysis.findings import SEVERITIES
from nflens.cli.gate import LEVELS
from nflens.errors import ParseError
from tests.conftest import EXAMPLES
from tests.inprocess import LAB, lab_copy, run_main

HIGH = LAB / "seed001_input_bypass-broken"  # input-bypass (high), direct-container-access
POLICY = EXAMPLES / "policies" / "seed001-input-bypass.yaml"


def test_levels_are_the_findings_severities():
    assert LEVELS == SEVERITIES


def test_audit_fail_on_high_exits_1_on_a_host_with_a_high_finding():
    run = run_main("audit", "--snapshot", HIGH, "--json", "--fail-on", "high")
    assert run.code == 1, run.err
    assert json.loads(run.out)["findings"]  # the whole document is written first
    assert "--fail-on high: 1 finding(s) of severity high or worse" in run.err


def test_audit_fail_on_counts_severity_and_worse_only():
    fixed = LAB / "seed001_input_bypass-fixed"  # direct-container-access (medium), info
    assert run_main("audit", "--snapshot", fixed, "--fail-on", "high").code == 0
    assert run_main("audit", "--snapshot", fixed, "--fail-on", "medium").code == 1
    assert run_main("audit", "--snapshot", fixed).code == 0  # no gate: as before


def test_a_bad_fail_on_level_is_exit_2():
    run = run_main("audit", "--snapshot", HIGH, "--fail-on", "critical")
    assert run.code == 2 and run.traceback is None
    assert "critical" in run.err


def test_write_baseline_then_baseline_leaves_every_finding_out(tmp_path):
    base = tmp_path / "accepted.json"
    first = run_main("audit", "--snapshot", HIGH, "--json", "--write-baseline", base)
    assert first.code == 0, first.err
    written = json.loads(base.read_text())
    assert written["nflens_baseline"] == 1
    ids = sorted(f["id"] for f in json.loads(first.out)["findings"])
    assert sorted(e["id"] for e in written["findings"]) == ids
    again = run_main("audit", "--snapshot", HIGH, "--json", "--baseline", base,
                     "--fail-on", "info")
    assert again.code == 0, again.err
    out = json.loads(again.out)
    assert out["findings"] == [] and out["baseline"] == {"left_out": len(ids)}


def test_a_baseline_accepts_only_what_it_lists(tmp_path):
    """Accepting the medium finding still fails the gate on the high one."""
    result = json.loads(run_main("audit", "--snapshot", HIGH, "--json").out)
    medium = [f for f in result["findings"] if f["severity"] == "medium"]
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"nflens_baseline": 1, "findings": [
        {"fingerprint": fingerprint(f)} for f in medium]}))
    run = run_main("audit", "--snapshot", HIGH, "--json", "--baseline", base,
                   "--fail-on", "medium")
    assert run.code == 1
    assert [f["severity"] for f in json.loads(run.out)["findings"]] == ["high"]


def _insert_rule_above(snap, chain_line: str, new: str) -> None:
    path = snap / "iptables-save.txt"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(chain_line))
    lines.insert(at, new + "\n")
    path.write_text("".join(lines))


def test_the_fingerprint_survives_a_rule_moving(tmp_path):
    """Rules inserted above the findings' rules move every line number and the DOCKER-USER
    index in the explanation; every finding keeps its fingerprint, so the baseline still
    accepts it."""
    snap = lab_copy(tmp_path, "seed000_web2-broken")
    before = json.loads(run_main("audit", "--snapshot", snap, "--json").out)["findings"]
    for chain in ("-A FORWARD", "-A DOCKER-USER"):
        _insert_rule_above(snap, chain, f"{chain} -s 192.0.2.77/32 -p udp -m udp --dport 9 -j DROP")
    after = json.loads(run_main("audit", "--snapshot", snap, "--json").out)["findings"]
    old, new = (next(f for f in found if f["id"] == "unreachable-published-port")
                for found in (before, after))
    assert old["rules"][0]["line"] != new["rules"][0]["line"]  # the test means something
    assert old["explanation"] != new["explanation"]  # DOCKER-USER #4 is #5 now
    assert {fingerprint(f) for f in before} <= {fingerprint(f) for f in after}


def test_the_fingerprint_ignores_counters_but_not_the_rule():
    f = {"id": "x", "subject": "s", "rules": [{"file": "iptables-save.txt", "line": 3,
                                              "text": "-A INPUT -j DROP", "owner": "admin"}]}
    counted = {**f, "rules": [{**f["rules"][0], "line": 9, "text": "[12:720] -A INPUT -j DROP"}]}
    other = {**f, "rules": [{**f["rules"][0], "text": "-A INPUT -j REJECT"}]}
    owned = {**f, "rules": [{**f["rules"][0], "owner": "ufw"}]}
    nft, nft2 = ({**f, "rules": [{"file": "nft.json",
                                  "text": f"tcp dport 22 counter packets {n} bytes {n} drop"}]}
                 for n in (5, 0))
    assert fingerprint(f) == fingerprint(counted)
    assert fingerprint(f) != fingerprint(other) and fingerprint(f) != fingerprint(owned)
    assert fingerprint(nft) == fingerprint(nft2)
    assert fingerprint(f) != fingerprint({**f, "subject": "t"})


@pytest.mark.parametrize("text,line", [
    ("{\n \"findings\": [}\n", 2),
    ("[1, 2]\n", 1),
    ("{\"nflens_baseline\": 2, \"findings\": []}", 1),
    ("{\"nflens_baseline\": 1,\n \"findings\": [\n  {\"fingerprint\": \"a\"},\n"
     "  {\"id\": 3}\n]}", 4),
])
def test_a_bad_baseline_is_file_line_and_exit_2(tmp_path, text, line):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ParseError) as exc:
        parse(text, str(path))
    assert exc.value.line == line
    run = run_main("audit", "--snapshot", HIGH, "--baseline", path)
    assert run.code == 2 and run.traceback is None
    assert run.err.startswith(f"{path}:{line}: ")


def test_an_unknown_severity_always_fails_the_gate():
    assert at_or_above([{"severity": "critical"}, {"severity": "info"}], "high") == \
        [{"severity": "critical"}]


def test_a_host_entry_is_accepted_on_that_host_only():
    f = {"id": "x", "subject": "s", "rules": []}
    base = Baseline([{"fingerprint": fingerprint(f), "host": "web-1"}])
    assert base.accepts(f, "web-1") and not base.accepts(f, "web-2")
    assert base.accepts(f)  # `nflens audit` of one snapshot: every entry counts


def _blocked(port: int, line: int = 399) -> dict:
    return {"id": "unreachable-published-port", "severity": "medium", "title": "t",
            "subject": f"tcp/0.0.0.0:{port}->c{port}:80", "explanation": "e", "fix": "",
            "fix_verified": None, "rules": [{"file": "iptables-save.txt", "line": line,
                                             "text": "-A DOCKER-USER -j DROP"}]}


def test_findings_of_one_rule_share_a_cause_and_others_do_not():
    found = group_causes([_blocked(1), _blocked(2), _blocked(3, line=400),
                          {**_blocked(4), "rules": []}])
    assert found[0]["cause"] == found[1]["cause"] and found[0]["cause"]["findings"] == 2
    assert "cause" not in found[2] and "cause" not in found[3]
    assert found[0]["cause"]["key"].startswith("unreachable-published-port@")
    group_causes(found[:1])  # regrouped after a baseline left the others out
    assert "cause" not in found[0]


def test_policy_plan_fail_on_audits_the_host_as_the_policy_leaves_it(tmp_path):
    """seed 001's policy closes the input bypass: the high finding is gone after the plan,
    the medium one (direct access to the container) too; `--fail-on info` still sees none."""
    run = run_main("policy", "plan", POLICY, "--snapshot", HIGH, "--json", "--fail-on", "high")
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["ok"] is True and "findings" in out
    assert not at_or_above(out["findings"], "high")
    plain = json.loads(run_main("policy", "plan", POLICY, "--snapshot", HIGH, "--json").out)
    assert "findings" not in plain  # without the options, the plan is as it was


def test_policy_plan_fail_on_exits_1_when_a_finding_is_left(tmp_path):
    """A policy that says nothing about the published port leaves the bypass: exit 1."""
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\negress:\n  - network: bridge\n    default: allow\n")
    run = run_main("policy", "plan", policy, "--snapshot", HIGH, "--fail-on", "high")
    assert run.code == 1, run.err + run.out
    assert "Audit of the host with the policy applied" in run.out
    assert "input-bypass" in run.out
