"""Issue 29.14: `check --json` is one whole JSON document or nothing.

A flow from an unknown container at the end of a flows file made check write the results of
the flows before it, then exit 2: stdout was cut mid-document. Every flow is now validated
before the first result is written.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.inprocess import run_main

SNAP = EXAMPLES / "snapshot-example"


def _flows(tmp_path, bad: dict | None):
    flows = json.loads((SNAP / "flows.json").read_text())["flows"]
    if bad is not None:
        flows.append({"name": "bad", **bad})
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": flows}, indent=1))
    return path


BAD = {
    "unknown container": {"from": {"container": "nope"},
                          "to": {"addr": "192.0.2.1", "port": 80, "proto": "tcp"}},
    "no IPv6 address": {"from": {"container": "shop"},
                        "to": {"addr": "2001:db8::1", "port": 80, "proto": "tcp"}},
    "different IP versions": {"from": {"iface": "eth1", "src": "198.51.100.2"},
                              "to": {"addr": "2001:db8::1", "port": 80, "proto": "tcp"}},
    "unknown interface": {"from": {"iface": "eth9", "src": "198.51.100.2"},
                          "to": {"addr": "198.51.100.1", "port": 8080, "proto": "tcp"}},
}


@pytest.mark.parametrize("needle", list(BAD))
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_bad_last_flow_leaves_stdout_empty(tmp_path, needle, as_json):
    path = _flows(tmp_path, BAD[needle])
    run = run_main("check", "--snapshot", SNAP, path, *(["--json"] if as_json else []))
    assert run.traceback is None and run.code == 2
    assert run.out == ""
    assert run.err.startswith(f"{path}: flow 'bad': ") and needle in run.err, run.err


def test_the_same_flows_without_the_bad_one_give_one_json_document(tmp_path):
    """The counterpart: the other flows are answered as one parseable document."""
    run = run_main("check", "--snapshot", SNAP, _flows(tmp_path, None), "--json")
    assert run.code == 0
    assert len(json.loads(run.out)["results"]) == 5
