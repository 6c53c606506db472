"""Issue 29.2: a typo in a flows file is an error, at every level, with "did you mean".

Before: `protocol: udp` was traced as TCP (the default), `expected: deny` was dropped so
`check` passed without checking anything, `nmae:` was accepted.
"""

from __future__ import annotations

import json

import pytest

from nflens.flows import load_flows
from tests.conftest import EXAMPLES, REPO
from tests.inprocess import run_main

SNAP = EXAMPLES / "snapshot-example"

YAML = """flows:
  - name: lan-shop
    from: {iface: eth1, src: 198.51.100.2}
    to:
      addr: 198.51.100.1
      port: 8080
      @KEY@: @VALUE@
"""


def _yaml(tmp_path, key: str, value: str):
    path = tmp_path / "flows.yaml"
    path.write_text(YAML.replace("@KEY@", key).replace("@VALUE@", value))
    return path


def test_protocol_for_proto_is_an_error_at_its_line(tmp_path):
    path = _yaml(tmp_path, "protocol", "udp")
    run = run_main("check", "--snapshot", SNAP, path)
    assert run.traceback is None and run.code == 2 and run.out == ""
    assert run.err.strip() == (f"{path}:7: unknown key 'protocol' in \"to\" of flow 'lan-shop' "
                               "(did you mean 'proto'?)")


def test_the_same_file_with_proto_is_read(tmp_path):
    """The counterpart: the key check is what refuses the file above, nothing else in it."""
    (flow,) = load_flows(_yaml(tmp_path, "proto", "udp"))
    assert flow.proto == "udp"


def _json_flows(tmp_path, flow: dict):
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": [
        {"name": "ok", "from": {"host": True}, "to": {"addr": "127.0.0.1", "port": 22}},
        flow]}, indent=1))
    return path


def _flow(**extra) -> dict:
    flow = {"name": "shop", "from": {"iface": "eth1", "src": "198.51.100.2"},
            "to": {"addr": "198.51.100.1", "port": 8080, "proto": "tcp"}}
    for where, (key, value) in extra.items():
        target = flow if where == "flow" else flow[where]
        target[key] = value
    return flow


@pytest.mark.parametrize("extra, message", [
    ({"flow": ("expected", "deny")}, "unknown key 'expected' in flow 'shop' (did you mean "
                                     "'expect'?)"),
    ({"flow": ("nmae", "x")}, "unknown key 'nmae' in flow 'shop' (did you mean 'name'?)"),
    ({"to": ("protocol", "udp")}, "unknown key 'protocol' in \"to\" of flow 'shop' (did you "
                                  "mean 'proto'?)"),
    ({"to": ("adress", "1.2.3.4")}, "unknown key 'adress' in \"to\" of flow 'shop' (did you "
                                    "mean 'addr'?)"),
    ({"from": ("sprot", 1234)}, "unknown key 'sprot' in \"from\" of flow 'shop' (did you mean "
                                "'sport'?)"),
    ({"from": ("zone", "lan")}, "unknown key 'zone' in \"from\" of flow 'shop' (known keys: "
                                "iface, src, container, host, sport)"),
])
def test_an_unknown_key_at_any_level_is_an_error_at_its_line(tmp_path, extra, message):
    path = _json_flows(tmp_path, _flow(**extra))
    run = run_main("check", "--snapshot", SNAP, path, "--json")
    assert run.traceback is None and run.code == 2
    assert run.out == ""
    file, line, rest = run.err.strip().split(":", 2)
    assert (file, rest.strip()) == (str(path), message)
    key = next(iter(extra.values()))[0]
    assert f'"{key}"' in path.read_text().splitlines()[int(line) - 1]


def test_expected_for_expect_no_longer_passes_check(tmp_path):
    """The CI story of the issue: wan-shop is denied (DOCKER-USER drops it), `expected: allow`
    made check pass silently (exit 0); now it is refused (exit 2), and spelled right it fails."""
    path = _json_flows(tmp_path, _flow(flow=("expected", "allow")))
    assert run_main("check", "--snapshot", SNAP, path).code == 2
    fixed = json.loads(path.read_text())
    fixed["flows"][1]["expect"] = fixed["flows"][1].pop("expected")
    path.write_text(json.dumps(fixed))
    assert run_main("check", "--snapshot", SNAP, path).code == 1  # the expectation is checked


def test_a_flow_without_a_name_is_named_by_its_number(tmp_path):
    flow = _flow(to=("protocol", "udp"))
    del flow["name"]
    run = run_main("check", "--snapshot", SNAP, _json_flows(tmp_path, flow))
    assert run.code == 2 and "unknown key 'protocol' in \"to\" of flow #2" in run.err


@pytest.mark.parametrize("doc, message", [
    ({"flow": []}, ":2: unknown key 'flow' (did you mean 'flows'?)"),
    ({"flows": [], "comment": "x"}, ":3: unknown key 'comment' (known keys: flows)"),
])
def test_an_unknown_top_level_key_is_an_error(tmp_path, doc, message):
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(doc, indent=1))
    run = run_main("check", "--snapshot", SNAP, path)
    assert run.code == 2 and run.err.strip() == f"{path}{message}"


def test_a_hostile_key_is_escaped_and_cut(tmp_path):
    path = _json_flows(tmp_path, _flow(to=("\x1b[31m" + "k" * 5000, 1)))
    run = run_main("check", "--snapshot", SNAP, path)
    assert run.code == 2 and "\x1b" not in run.err and "\\x1b[31m" in run.err
    assert len(run.err) < 300


def test_every_flows_file_of_the_repository_has_only_known_keys():
    """The examples and lab fixtures are read as before (no key of theirs is refused)."""
    files = [p for p in (REPO / "examples").rglob("flows.json")] + \
        [p for p in (REPO / "tests" / "fixtures" / "lab").rglob("flows.json")]
    assert len(files) > 10
    for path in files:
        assert load_flows(path), path
