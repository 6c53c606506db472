"""Off a TTY nothing is cut (issue 29.6): rich's default there is 80 columns, so a piped `rules`
table printed `DOCKER-ISOLATIO…` twice and a long explanation or fix was broken mid-line, where
`grep` could no longer find it."""

from __future__ import annotations

import io
import json
import sys

from nflens.report import console as console_mod
from tests.conftest import EXAMPLES
from tests.inprocess import LAB, run_main

SEED000 = LAB / "seed000_web2-broken"


def test_a_piped_rules_table_keeps_every_chain_name_whole():
    run = run_main("rules", SEED000 / "iptables-save.txt")
    assert run.code == 0, run.err
    assert "DOCKER-ISOLATION-STAGE-1" in run.out and "DOCKER-ISOLATION-STAGE-2" in run.out
    assert "…" not in run.out


def test_piped_audit_text_has_each_explanation_and_fix_on_one_line():
    found = json.loads(run_main("audit", "--snapshot", SEED000, "--json").out)["findings"]
    lines = run_main("audit", "--snapshot", SEED000).out.splitlines()
    assert any(len(line) > 80 for line in lines)  # there is something to cut
    for f in found:
        first = f["explanation"].splitlines()[0]
        assert any(first in line for line in lines), first
        for fix in f["fix"].splitlines():
            assert any(fix in line for line in lines), fix


def test_a_piped_horizontal_rule_keeps_a_screens_width():
    run = run_main("policy", "plan", EXAMPLES / "policies" / "seed001-input-bypass.yaml",
                   "--snapshot", LAB / "seed001_input_bypass-broken")
    assert run.code == 0, run.err
    rules = [line for line in run.out.splitlines() if line.startswith("─")]
    assert rules and all(len(line) == console_mod.RULE_WIDTH for line in rules)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_console_is_as_wide_as_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Tty())
    monkeypatch.setenv("COLUMNS", "100")
    assert console_mod.console().width == 100
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert console_mod.console().width == console_mod.UNCUT
