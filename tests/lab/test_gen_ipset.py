"""The fuzzer's ipset draws (lab/fuzz/gen_ipset.py): their own RNG stream, so a case keeps its
rules and flows and only gains `-m set` matches; every drawn set is one nflens reads without
naming anything unsupported."""

from __future__ import annotations

import random
import re

from nflens.dialects.ipset import parse as parse_ipsets
from nflens.lab.fuzz import gen_host, gen_iptables
from nflens.lab.fuzz.runner import draw_case

SET_MATCH = re.compile(r" -m set (! )?--match-set \S+ \S+( --return-nomatch)?")


def test_weaving_ipsets_only_adds_set_matches_to_the_drawn_rules():
    woven = 0
    for index in range(80):
        case = draw_case(5, index)
        if case.iptables is None:
            continue
        rng = random.Random(f"nflens-fuzz:5:{index}")
        version = 4 if rng.random() < 0.7 else 6
        if rng.random() >= 0.75:  # the mode draw: this case has no drawn iptables rules
            continue
        plain = gen_iptables.ruleset(rng, version)
        # issue 24's host dimensions are applied after the weave, each from its own stream
        plain = gen_host.owner_rules(5, index, version, plain)
        plain, _ = gen_host.tproxy(5, index, version, plain)
        assert SET_MATCH.sub("", case.iptables) == plain, index
        woven += case.iptables != plain
    assert woven > 10  # the dimension is really drawn


def test_drawn_ipsets_are_fully_modelled():
    drawn = 0
    for index in range(200):
        case = draw_case(9, index)
        if case.ipsets is None:
            continue
        drawn += 1
        sets = parse_ipsets(case.ipsets, f"case-{index}")
        assert not any(s.unsupported for s in sets), index
        assert {s.type for s in sets} >= {"hash:ip", "hash:net", "hash:ip,port",
                                          "hash:net,port", "bitmap:port", "list:set"}
    assert drawn > 30


def test_no_entry_is_drawn_twice():
    """Found by a 250-case run (seed 25, cases 36 and 211): `ipset restore` refused an
    entry of hash:ip,port drawn twice, and the case was lost as invalid."""
    for index in (36, 211):
        lines = draw_case(25, index).ipsets.splitlines()
        assert len(lines) == len(set(lines)), index
