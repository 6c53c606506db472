"""Round trip through the kernel: iptables-save -> IR -> iptables-restore input -> loaded into a
scratch network namespace -> iptables-save -> IR: the same rules (normalised)."""

from __future__ import annotations

import subprocess

import pytest

from nflens.dialects import iptables
from nflens.errors import ParseError
from nflens.ir.rules import XtMatch
from tests.conftest import scratch_netns

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def netns():
    with scratch_netns("nfl-rt", "iptables-restore", "ip6tables-restore") as name:
        yield name


def _in_ns(ns: str, *cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], input=stdin, capture_output=True,
                          text=True, timeout=60)


# Defaults iptables-save prints although the rule did not give them.
DEFAULTS = {("recent", "mask"): "255.255.255.255", ("recent", "rsource"): True}


def _strip_defaults(expr):
    if isinstance(expr, XtMatch):
        return XtMatch(expr.name, tuple(o for o in expr.opts
                                        if DEFAULTS.get((expr.name, o.name)) != o.value))
    return expr


def _normal(rs):
    """Rules per (table, chain) without counters or source, plus base chain policies."""
    out = {}
    for t in rs.tables:
        for c in t.chains:
            out[(t.name, c.name)] = (c.policy if c.is_base else None,
                                     [tuple(map(_strip_defaults, r.exprs)) for r in c.rules])
    return out


def _roundtrip(ns: str, text: str, family: str):
    restore, save = ("iptables-restore", "iptables-save") if family == "ip" else (
        "ip6tables-restore", "ip6tables-save")
    original = iptables.parse(text, "orig", family=family)
    generated = iptables.generate(original, family)
    loaded = _in_ns(ns, restore, stdin=generated)
    if loaded.returncode != 0:
        return None, loaded.stderr
    dumped = _in_ns(ns, save).stdout
    _in_ns(ns, restore, stdin="".join(f"*{t.name}\nCOMMIT\n" for t in original.tables))
    back = iptables.parse(dumped, "back", family=family)
    mine = {k: v for k, v in _normal(original).items() if v[1] or k[1].isupper() is False}
    theirs = {k: v for k, v in _normal(back).items() if k in mine}
    return (mine, theirs), None


def test_moby_goldens_round_trip_through_the_kernel(netns, corpus):
    files = sorted((corpus / "moby" / "TestIptabler").glob("*__iptables.golden"))[::6]
    rejected = []
    for path in files:
        result, err = _roundtrip(netns, path.read_text(), "ip")
        if result is None:
            rejected.append((path.name, err))
            continue
        mine, theirs = result
        assert mine == theirs, path.name
    print(f"{len(files) - len(rejected)} round-tripped, {len(rejected)} rejected by the kernel")
    assert len(rejected) < len(files)


def test_real_world_dumps_round_trip_where_the_kernel_accepts_them(netns, corpus):
    done, rejected = 0, []
    for path in sorted((corpus / "real-world").iterdir()):
        text = path.read_text(errors="replace")
        try:
            family = iptables.parse(text, str(path)).tables[0].family
        except (ParseError, IndexError):
            continue
        result, err = _roundtrip(netns, text, family)
        if result is None:
            rejected.append(path.name)
            continue
        mine, theirs = result
        assert mine == theirs, path.name
        done += 1
    print(f"real-world: {done} round-tripped, {len(rejected)} rejected by the kernel: {rejected}")
    assert done >= 20
