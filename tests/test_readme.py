"""The README's examples work (issue 29.11): every `.venv/bin/nflens` command it shows on the
bundled examples runs without an error, its flows and policy examples are valid and do what it
says, and its snapshot file list names every file nflens reads and CONTRACT §2 lists."""

from __future__ import annotations

import re
import shlex

from nflens.snapshot.read import KNOWN_FILES
from tests.conftest import REPO, SHARED
from tests.inprocess import run_main

README = (REPO / "README.md").read_text(encoding="utf-8")
# Placeholders a reader replaces (the commands that name them are not runnable as shown).
PLACEHOLDERS = re.compile(r"\b(DIR|POLICY|FILE|FLOWS|SCENARIO|ROOT)\b|some-|web1\.tar|/nonexistent")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def _runnable() -> list[list[str]]:
    """The commands in README order, continuation lines joined, comments dropped."""
    out = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(".venv/bin/nflens ") and "examples/" in line \
                    and not PLACEHOLDERS.search(line):
                out.append(shlex.split(line)[1:])
    return out


def _here(arg: str, tmp) -> str:
    """A path of the README made to work from a scratch directory: examples/ in the checkout,
    /tmp/X and any other file written (audit.html) in `tmp`."""
    if arg.startswith("examples/"):
        return str(REPO / arg)
    if arg.startswith("/tmp/"):
        return str(tmp / arg.removeprefix("/tmp/"))
    return arg


def _after(heading: str, lang: str) -> str:
    at = README.index(heading)
    return re.search(rf"```{lang}\n(.*?)```", README[at:], re.S).group(1)


def test_the_readme_shows_runnable_commands_on_the_examples():
    commands = _runnable()
    assert any(c[:2] == ["policy", "plan"] for c in commands)  # the plan example is one of them
    assert len(commands) >= 6


def test_each_readme_command_runs_in_order(tmp_path, monkeypatch):
    """In order: the --baseline example reads what the --write-baseline one wrote."""
    monkeypatch.chdir(tmp_path)  # files the examples write (audit.html) land here
    for argv in _runnable():
        run = run_main(*(_here(a, tmp_path) for a in argv))
        allowed = (0, 1) if "--fail-on" in argv and "--baseline" not in argv else (0,)
        assert run.traceback is None, run.traceback
        assert run.code in allowed, (argv, run.code, run.err[-500:])


def test_the_readme_flows_example_checks_on_the_bundled_snapshot(tmp_path):
    flows = tmp_path / "flows.json"
    flows.write_text(_after("### Flows file", "json"))
    run = run_main("check", "--snapshot", REPO / "examples" / "snapshot-example", flows, "--json")
    assert run.code == 0, run.err  # every `expect` holds
    import json

    verdicts = {r["name"]: r["verdict"] for r in json.loads(run.out)["results"]}
    assert verdicts == {"lan-shop": "allow", "wan-shop": "deny", "shop-egress": "allow",
                        "local": "allow"}


def test_the_readme_policy_example_is_the_bundled_file_and_plans_ok(tmp_path):
    shown = _after("A policy for the bundled snapshot", "yaml")
    bundled = (REPO / "examples" / "policies" / "snapshot-example.yaml").read_text()
    assert shown.strip() in bundled
    policy = tmp_path / "p.yaml"
    policy.write_text(shown)
    run = run_main("policy", "plan", policy, "--snapshot", REPO / "examples" / "snapshot-example")
    assert run.code == 0, run.err
    assert "OK: every statement holds and nothing else changed" in run.out


def _table_files(text: str) -> set[str]:
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    return {f for row in rows for f in re.findall(r"`([^`]+)`", row)}


def test_the_snapshot_file_list_is_complete():
    listed = _table_files(README[README.index("### Snapshot files"):
                                 README.index("### Flows file")])
    assert set(KNOWN_FILES) - {"nft.txt"} <= listed  # nft.txt is named in nft.json's row
    assert "nft.txt" in README[README.index("### Snapshot files"):README.index("### Flows file")]
    contract = SHARED / "CONTRACT.md"
    if contract.exists():
        text = contract.read_text()
        section = text[text.index("## 2."):text.index("## 3.")]
        assert _table_files(section) <= listed


def test_the_extras_are_all_named():
    for extra in ("nflens[live]", "nflens[lab]", "nflens[fleet]"):
        assert f"`{extra}`" in README
