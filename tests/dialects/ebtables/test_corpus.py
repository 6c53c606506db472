"""Every `ebtables-translate` command line of iptables' extensions/libebt_*.txlate parses.

The corpus holds `ebtables-translate [-t TABLE] -A|-I CHAIN ARGS` lines; the argument part is
exactly what ebtables-save would print after `-A CHAIN`, so it becomes one rule of a dump.
"""

from __future__ import annotations

import shlex

import pytest

from nflens.dialects.ebtables import generate, parse
from tests.conftest import CORPUS
from tests.dialects.ebtables.test_parse import shape

CHAINS = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
          "nat": ("PREROUTING", "OUTPUT", "POSTROUTING")}


def _commands():
    folder = CORPUS / "iptables-txlate"
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("libebt_*.txlate")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("ebtables-translate "):
                out.append(pytest.param(line, id=f"{path.name}:{number}"))
    return out


def dump_of(command: str) -> str:
    """`ebtables-translate -t nat -A PREROUTING args` -> a one-rule ebtables-save dump."""
    words = shlex.split(command)[1:]
    table = "filter"
    if words[0] == "-t":
        table, words = words[1], words[2:]
    verb, chain, args = words[0], words[1], words[2:]
    assert verb in ("-A", "-I")
    lines = [f"*{table}"] + [f":{c} ACCEPT" for c in CHAINS[table]]
    lines.append(f"-A {chain} " + " ".join(shlex.quote(a) for a in args))
    return "\n".join(lines) + "\n"


@pytest.mark.corpus
@pytest.mark.parametrize("command", _commands())
def test_txlate_command_parses_and_round_trips(command):
    rs = parse(dump_of(command), "txlate")
    assert rs.rule_count() == 1
    assert rs.unsupported == ()
    assert shape(parse(generate(rs))) == shape(rs)


@pytest.mark.corpus
def test_the_corpus_is_there(corpus):
    assert len(_commands()) >= 40
