"""Issue 24 class 8: NAT to an address range takes the address find_best_ips_proto hashes the
connection to (kernel/natpick.py), not the lowest. The expected picks were measured on the
kernel: tests/lab/test_lab_netfilter_decisions.py drops 10.2.0.3 / fd02::3 behind a DNAT range
and reads the verdicts (and nflens agrees on each of the 24 flows there)."""

from __future__ import annotations

import ipaddress as ip

import pytest

from nflens.ir.rules import Action
from nflens.kernel import nat
from nflens.kernel.conntrack import Entry, Tuple
from nflens.kernel.natpick import pick

A = ip.ip_address


def _entry(src: str, dst: str) -> Entry:
    t = Tuple(A(src), A(dst), 40000, 8443)
    return Entry("tcp", t, t.inverse())


@pytest.mark.parametrize(("src", "dst", "persistent", "picked"), [
    ("10.1.0.2", "10.1.0.1", False, "10.2.0.2"), ("10.1.0.3", "10.1.0.1", False, "10.2.0.3"),
    ("10.1.0.2", "10.2.0.1", False, "10.2.0.3"), ("10.1.0.3", "10.2.0.1", False, "10.2.0.2"),
    ("10.1.0.2", "10.2.0.1", True, "10.2.0.2"), ("10.1.0.3", "10.2.0.1", True, "10.2.0.3"),
])
def test_dnat_to_a_range_binds_the_hashed_address(src, dst, persistent, picked):
    flags = (("persistent", True),) if persistent else ()
    action = Action("dnat", (("addr", (A("10.2.0.2"), A("10.2.0.3"))), *flags, ("port", None)))
    entry = _entry(src, dst)
    assert nat.bind(entry, action, "prerouting") == "dst"
    assert entry.reply.src == A(picked)


def test_persistent_hashes_the_source_only():
    lo, hi = A("10.9.0.1"), A("10.9.0.200")
    picks = {pick(lo, hi, A("10.1.0.2"), A(d), "dst", persistent=True)
             for d in ("10.1.0.1", "10.2.0.1", "192.0.2.7")}
    assert len(picks) == 1
    assert len({pick(lo, hi, A("10.1.0.2"), A(d), "dst")
                for d in ("10.1.0.1", "10.2.0.1", "192.0.2.7")}) > 1


def test_an_ipv6_range_pick_stays_inside_the_range_and_matches_the_kernel():
    lo, hi = A("fd02::2"), A("fd02::3")
    assert pick(lo, hi, A("fd01::2"), A("fd02::2"), "dst") == A("fd02::2")
    assert pick(lo, hi, A("fd01::3"), A("fd02::2"), "dst") == A("fd02::3")
    wide_lo, wide_hi = A("fd00::"), A("fd00::ffff:ffff:ffff")
    got = pick(wide_lo, wide_hi, A("fd01::2"), A("fd02::2"), "src")
    assert wide_lo <= got <= wide_hi


def test_nft_flags_persistent_counts_like_iptables_persistent():
    action = Action("snat", (("addr", (A("10.9.0.1"), A("10.9.0.200"))),
                             ("flags", ("persistent",)), ("port", None)))
    seen = set()
    for dst in ("10.1.0.1", "10.2.0.1"):
        entry = _entry("10.1.0.2", dst)
        nat.bind(entry, action, "postrouting")
        seen.add(entry.reply.dst)
    assert len(seen) == 1


def test_an_snat_range_that_holds_the_source_keeps_it():
    """get_unique_tuple: the original tuple, already in range and unique, is kept."""
    action = Action("snat", (("addr", (A("10.1.0.1"), A("10.1.0.9"))), ("port", None)))
    entry = _entry("10.1.0.2", "10.2.0.2")
    nat.bind(entry, action, "postrouting")
    assert entry.reply.dst == A("10.1.0.2")
