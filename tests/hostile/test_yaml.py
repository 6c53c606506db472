"""Issue 29.13: policy and flows YAML is plain data, bounded (nflens.safeyaml): a tag, a
collection as key, an alias bomb are `FILE:LINE: message`, exit 2, read in bounded memory."""

from __future__ import annotations

import tracemalloc

import pytest

from nflens import safeyaml
from nflens.errors import ParseError
from tests.inprocess import lab_copy, run_main


def _bomb(levels: int = 20) -> str:
    """Billion laughs: level i is a list of 10 aliases of level i-1 (10^levels strings)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


POLICY_CASES = {  # name: (text, line, what the error says)
    "tag on a value": ("version: !custom 1\n", 1, "tag '!custom' is not allowed"),
    "tag on a mapping": ("version: 1\ninbound: !thing\n  ports: []\n", 2,
                         "tag '!thing' is not allowed"),
    "tag on a list": ("version: 1\ngroups: !!set\n  ? a\n", 2, "is not allowed"),
    "python tag": ("version: 1\nx: !!python/object:os.system ls\n", 2, "is not allowed"),
    "list as key": ("{? [1]: x}\n", 1, "a key must be a string or a number, not "
                    "a list"),
    "mapping as key": ("version: 1\n? {a: 1}\n: x\n", 2, "not a mapping"),
    "bad int": ("version: !!int abc\n", 1, "'abc' is not a valid int"),
    "cycle": ("version: 1\nx: &a [*a]\n", 2, "refers to its own anchor"),
    "merge key": ("a: &a {version: 1}\nb:\n  <<: *a\n", 3, "merge keys"),
    "alias bomb": (_bomb(), 1, "more than 200000 values once aliases are expanded"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_a_hostile_policy_yaml_is_file_line_message_and_exit_2(tmp_path, case):
    text, line, needle = POLICY_CASES[case]
    snap = lab_copy(tmp_path)
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    run = run_main("policy", "plan", p, "--snapshot", snap)
    assert run.traceback is None, run.traceback
    assert run.code == 2
    assert run.err.startswith(f"{p}:{line}: "), run.err
    assert needle in run.err


def test_a_hostile_flows_yaml_is_file_line_message_and_exit_2(tmp_path):
    snap = lab_copy(tmp_path)
    flows = tmp_path / "flows.yaml"
    for text, line, needle in (("flows: !custom []\n", 1, "tag '!custom'"),
                               ("flows:\n  - {? [1]: x}\n", 2, "a key must be"),
                               (_bomb() + "flows: []\n", 1, "aliases are expanded")):
        flows.write_text(text)
        run = run_main("check", "--snapshot", snap, flows)
        assert run.traceback is None, run.traceback
        assert run.code == 2 and run.err.startswith(f"{flows}:{line}: "), run.err
        assert needle in run.err


def test_an_alias_bomb_is_refused_in_bounded_memory():
    """Composing is linear in the text; only the expansion multiplies, and it stops at
    MAX_NODES: the peak stays far below what 10^20 strings (or even 10^6) would take."""
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match="aliases are expanded"):
            safeyaml.load(_bomb(), "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak


def test_anchors_within_the_budget_still_work():
    data = safeyaml.load("a: &x {port: 80}\nb: *x\nc: [*x, *x]\nd: 2024-01-01\n", "ok.yaml")
    assert data["b"] == {"port": 80} and data["c"] == [{"port": 80}] * 2
    assert str(data["d"]) == "2024-01-01"
