"""parse_json never crashes: any JSON-ish input gives a Ruleset or an NflensError."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from nflens.dialects.nft import parse_json
from nflens.errors import NflensError
from nflens.ir.rules import Ruleset
from tests.conftest import budget

KEYS = ["table", "chain", "rule", "set", "map", "family", "name", "expr", "match", "left",
        "right", "op", "payload", "meta", "ct", "prio", "hook", "elem", "vmap", "dnat", "port",
        "addr", "range", "prefix", "set", "concat", "jump", "target", "mangle", "key", "value"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**33, 2**33),
                    st.sampled_from(["ip", "inet", "bridge", "t", "c", "==", "in", "@s",
                                     "input", "filter", "dstnat + 5", "tcp", "dport", "x"]))
VALUES = st.recursive(SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(KEYS), kids, max_size=4)),
    max_leaves=25)
OBJECT = st.dictionaries(st.sampled_from(["table", "chain", "rule", "set", "map", "metainfo"]),
                         st.fixed_dictionaries(
                             {"family": st.sampled_from(["ip", "inet", "bridge", "x"]),
                              "table": st.just("t"), "name": st.sampled_from(["t", "c"]),
                              "chain": st.just("c")},
                             optional={"expr": st.lists(VALUES, max_size=4), "hook": SCALARS,
                                       "prio": SCALARS, "elem": VALUES, "type": VALUES}),
                         min_size=1, max_size=1)


@budget(300)
@given(st.one_of(st.lists(OBJECT, max_size=6), VALUES))
def test_parse_json_gives_a_ruleset_or_an_nflens_error(objs):
    text = json.dumps({"nftables": objs} if isinstance(objs, list) else objs)
    try:
        assert isinstance(parse_json(text), Ruleset)
    except NflensError:
        pass


@budget(100)
@given(st.text(max_size=60))
def test_arbitrary_text_gives_a_ruleset_or_an_nflens_error(text):
    try:
        parse_json(text)
    except NflensError:
        pass
