"""nflens.lab.agreement's scores (no root): agreed, uncertain (said, or the assumption about
the network beyond named on a flow whose outcome hangs on it), disagreed; and the table it
prints over the committed asymmetric fixtures."""

from __future__ import annotations

from pathlib import Path

from nflens.kernel.simulate import FlowResult
from nflens.lab.agreement import render, score, table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lab"
ASSUMED = ("assumed: the answer from 203.0.113.5 comes back in on eth1, the interface of the "
           "host's route to it (the network beyond the host is not in the snapshot)")


def _result(verdict: str, assumptions: tuple[str, ...] = ()) -> FlowResult:
    return FlowResult("f", verdict, None, "", None, None, [], assumptions=list(assumptions))


def test_same_verdict_is_agreed_and_uncertain_is_uncertain():
    assert score("deny", _result("deny")) == "agreed"
    assert score("allow", _result("uncertain")) == "uncertain"


def test_a_contradicted_answer_is_uncertain_only_when_it_named_the_network_beyond():
    assert score("deny", _result("allow", (ASSUMED,)), beyond=True) == "uncertain"
    assert score("deny", _result("allow", (ASSUMED,)), beyond=False) == "disagreed"
    assert score("deny", _result("allow", ("assumed: a peer answers",)), beyond=True) \
        == "disagreed"


def test_table_of_the_asymmetric_fixtures_has_no_disagreement():
    rows = table(FIXTURES, ["asymmetric"])
    assert {r.fixture for r in rows} == {"asymmetric-rp0", "asymmetric-rp1", "asymmetric-rp2"}
    assert all(r.counts["disagreed"] == 0 and r.flows == 8 for r in rows)
    strict = [r for r in rows if r.fixture == "asymmetric-rp1"]
    assert all(r.counts == {"agreed": 6, "uncertain": 2, "disagreed": 0} for r in strict)
    assert "| all |" in render(rows)
