"""`nflens check` and `nflens trace` as a user runs them (CONTRACT §4): output shape, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, REPO

SNAP = EXAMPLES / "snapshot-example"


def nflens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_check_json_gives_one_result_per_flow_with_the_contract_keys():
    run = nflens("check", "--snapshot", str(SNAP), str(SNAP / "flows.json"), "--json")
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)["results"]
    assert [r["name"] for r in results] == ["lan-shop", "wan-shop", "lan-hostsvc", "wan-hostsvc",
                                            "shop-to-wan"]
    for r in results:
        assert set(r) >= {"name", "verdict", "expect", "stopped_at", "path"}
        assert r["verdict"] in ("allow", "deny", "uncertain")
        assert {s["direction"] for s in r["path"]} >= {"original"}


def test_check_exits_1_when_an_expectation_does_not_hold(tmp_path):
    flows = {"flows": [{"name": "wan-shop", "from": {"iface": "eth1", "src": "198.51.100.2"},
                        "to": {"addr": "198.51.100.1", "port": 8080, "proto": "tcp"},
                        "expect": "allow"}]}
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(flows))
    assert nflens("check", "--snapshot", str(SNAP), str(path)).returncode == 1


def test_a_denied_flow_names_the_docker_user_rule_that_decided_it():
    run = nflens("check", "--snapshot", str(SNAP), str(SNAP / "flows.json"), "--json")
    wan = next(r for r in json.loads(run.stdout)["results"] if r["name"] == "wan-shop")
    assert wan["verdict"] == "deny"
    assert wan["stopped_at"]["chain"] == "DOCKER-USER"
    assert "--ctorigdstport 8080" in wan["stopped_at"]["rule"]


def test_trace_shows_both_directions_and_the_dnat_rewrite():
    run = nflens("trace", "--snapshot", str(SNAP), "--from", "eth0:10.99.0.2",
                 "--to", "10.99.0.1:8080/tcp")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Original direction" in out and "Reply direction" in out
    assert "DNAT" in out and "172.17.0.2:80" in out
    assert "ALLOW" in out


@pytest.mark.parametrize("args,needle", [
    (["trace", "--snapshot", str(SNAP), "--from", "eth0", "--to", "10.99.0.1:8080/tcp"], "--from"),
    (["trace", "--snapshot", str(SNAP), "--from", "host", "--to", "10.99.0.1/tcp"], "--to"),
    (["trace", "--snapshot", str(SNAP), "--from", "container:nope", "--to", "1.1.1.1:80/tcp"],
     "unknown container"),
])
def test_bad_trace_arguments_exit_2_with_a_message_and_no_traceback(args, needle):
    run = nflens(*args)
    assert run.returncode == 2
    assert needle in run.stderr and "Traceback" not in run.stderr


def test_a_malformed_flows_file_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "flows.json"
    path.write_text('{"flows": [\n  {"name": "x",\n'
                    '   "from": {"host": true}, "to": {"addr": "nope"}}\n]}\n')
    run = nflens("check", "--snapshot", str(SNAP), str(path))
    assert run.returncode == 2
    assert f"{path}:2:" in run.stderr and "Traceback" not in run.stderr
