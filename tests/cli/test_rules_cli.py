"""`nflens rules FILE` (CONTRACT §4): tables, chains, counts, unsupported constructs, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EXAMPLES, REPO

SNAP = EXAMPLES / "snapshot-example"


def nflens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nflens", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_rules_json_lists_tables_chains_hooks_priorities_and_counts():
    run = nflens("rules", str(SNAP / "iptables-save.txt"), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["dialect"] == "iptables"
    filt = next(t for t in out["tables"] if t["name"] == "filter")
    inp = next(c for c in filt["chains"] if c["name"] == "INPUT")
    assert (inp["hook"], inp["priority"], inp["policy"], inp["rules"]) == ("input", 0, "drop", 3)
    assert isinstance(out["unsupported"], list)


def test_rules_reads_nft_json_and_lists_the_xt_expressions_it_cannot_see_into():
    run = nflens("rules", str(SNAP / "nft.json"), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["dialect"] == "nft-json"
    assert out["unsupported"] and all(u["line"] > 0 for u in out["unsupported"])


def test_rules_reads_ebtables_save():
    dump = REPO / "tests" / "fixtures" / "lab" / "seed000_web2-broken" / "ebtables-save.txt"
    run = nflens("rules", str(dump), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["tables"][0]["family"] == "bridge"
    assert sum(c["rules"] for c in out["tables"][0]["chains"]) == 8


def test_an_empty_dump_is_an_empty_ruleset_of_the_kind_its_name_says():
    run = nflens("rules", str(SNAP / "ebtables-save.txt"), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["tables"] == []


def test_a_garbage_line_is_reported_as_file_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport eighty -j DROP\nCOMMIT\n")
    run = nflens("rules", str(bad))
    assert run.returncode == 2
    assert run.stderr.startswith(f"{bad}:3:") and "Traceback" not in run.stderr


def test_an_unknown_dialect_name_suggests_the_right_one(tmp_path):
    run = nflens("rules", str(SNAP / "nft.json"), "--dialect", "nftjson")
    assert run.returncode == 2 and "Did you mean 'nft-json'?" in run.stderr


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    run = nflens("rules", str(tmp_path / "nope.txt"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
