"""`-I CHAIN [N]` in iptables-restore input inserts before rule N (default 1); the kernel's
order is the truth (the lab test loads the same input and compares)."""

from __future__ import annotations

import subprocess

import pytest

from nflens.dialects import iptables
from nflens.errors import ParseError
from tests.conftest import scratch_netns

RESTORE = """*filter
:INPUT ACCEPT [0:0]
:X - [0:0]
-A INPUT -s 10.0.0.1 -j ACCEPT
-A INPUT -s 10.0.0.2 -j ACCEPT
-I INPUT -s 10.0.0.3 -j DROP
-I INPUT 2 -s 10.0.0.4 -j DROP
-A INPUT -s 10.0.0.5 -j ACCEPT
--insert INPUT 5 -s 10.0.0.6 -j DROP
-I INPUT 7 -s 10.0.0.9 -j DROP
-I X -s 1.1.1.1 -j DROP
COMMIT
"""
# what iptables-restore 1.8.9 makes of it (iptables-save, checked in a scratch namespace)
KERNEL_ORDER = ["10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2", "10.0.0.6", "10.0.0.5",
                "10.0.0.9"]


def _sources(rs, chain="INPUT") -> list[str]:
    (table,) = rs.tables
    rules = next(c for c in table.chains if c.name == chain).rules
    return [str(r.exprs[0].opts[0].value.network_address) for r in rules]


def test_insert_goes_before_rule_n_default_first():
    rs = iptables.parse(RESTORE, "r.txt", family="ip")
    assert _sources(rs) == KERNEL_ORDER
    assert _sources(rs, "X") == ["1.1.1.1"]


def test_insert_keeps_its_own_line():
    rs = iptables.parse(RESTORE, "r.txt", family="ip")
    first = rs.tables[0].chains[0].rules[0]
    assert first.source.line == 6 and first.source.text.startswith("-I INPUT -s 10.0.0.3")


@pytest.mark.parametrize("line, words", [("-I INPUT 3 -s 10.0.0.7 -j DROP", "too big"),
                                         ("-I INPUT 0 -s 10.0.0.7 -j DROP", "invalid rule number")])
def test_insert_out_of_range_is_refused_like_the_tool(line, words):
    text = f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1 -j ACCEPT\n{line}\nCOMMIT\n"
    with pytest.raises(ParseError, match=words) as err:
        iptables.parse(text, "r.txt", family="ip")
    assert err.value.line == 4


@pytest.mark.lab
def test_insert_order_is_the_kernels():
    with scratch_netns("nfl-ins", "iptables-restore", "iptables-save") as ns:
        run = ["ip", "netns", "exec", ns]
        subprocess.run([*run, "iptables-restore"], input=RESTORE, text=True, check=True,
                       capture_output=True, timeout=60)
        saved = subprocess.run([*run, "iptables-save", "-t", "filter"], text=True, check=True,
                               capture_output=True, timeout=60).stdout
    assert _sources(iptables.parse(saved, "save.txt", family="ip")) == KERNEL_ORDER
    assert _sources(iptables.parse(RESTORE, "r.txt", family="ip")) == KERNEL_ORDER
