"""The match registry (ARCHITECTURE.md "Learned in the first round"): keyed by dialect and name,
a duplicate is an error at import, every extension a grammar knows is either modelled (evaluate,
and constrain for x_tables) or a named unmodelled entry, and the parser's list of unmodelled
extensions is the registry's."""

from __future__ import annotations

import ipaddress as ip
import types

import pytest

from nflens.dialects.ebtables import grammar as eb_grammar
from nflens.dialects.iptables import grammar as xt_grammar
from nflens.dialects.iptables import parse
from nflens.dialects.nft import statements as nft_statements
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel import matches
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.region import NULL_HOST


def _ctx():
    pkt = Packet(ip.ip_address("10.0.0.1"), ip.ip_address("10.0.0.2"), "tcp", 1000, 22)
    return PacketContext(pkt=pkt, family="ip", hook="input", env=NULL_HOST, ct=CtView("NEW"))


@pytest.mark.parametrize("name", sorted(set(xt_grammar.EXTENSIONS) | {"ip"}))
def test_every_iptables_extension_is_modelled_or_named_unmodelled(name):
    entry = matches.lookup("xt", name)
    assert entry is not None, f"-m {name}: the grammar knows it, the registry does not"
    assert callable(getattr(entry, "evaluate", None)) and callable(getattr(entry, "constrain",
                                                                           None)), name


@pytest.mark.parametrize("name", eb_grammar.MATCH_MODULES)
def test_every_ebtables_match_module_is_registered(name):
    assert callable(getattr(matches.lookup("eb", name), "evaluate", None)), name


@pytest.mark.parametrize("kind", sorted(nft_statements.MATCH_LIKE | {"payload", "meta", "ct",
                                                                     "fib"}))
def test_every_nft_match_kind_is_registered(kind):
    assert callable(getattr(matches.lookup("nft", kind), "evaluate", None)), kind


def test_the_parsers_unmodelled_list_is_the_registrys():
    assert matches.unmodelled_names("xt") == frozenset(xt_grammar.UNMODELLED)
    for name in xt_grammar.UNMODELLED:
        assert isinstance(matches.lookup("xt", name), matches.Unmodelled), name


def test_a_modelled_match_is_not_reported_unsupported_by_the_parser():
    rs = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p sctp -m sctp --dport 22 -j DROP\n"
               "COMMIT\n", "t.rules")
    assert rs.unsupported == ()
    assert isinstance(matches.lookup("xt", "sctp"), types.ModuleType)


def test_a_name_registered_twice_in_one_dialect_is_an_error():
    fake = types.ModuleType("nflens.kernel.matches.xt_fake")
    with pytest.raises(matches.RegistryError, match="xt:tcp is registered twice"):
        matches._add(("xt", "tcp"), fake)


def test_the_same_name_in_two_dialects_is_two_entries():
    assert matches.lookup("xt", "limit") is not matches.lookup("nft", "limit")


def test_iptables_limit_is_an_iptables_unknown_not_an_nft_relation():
    rule = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit 5/min -j ACCEPT\n"
                 "COMMIT\n", "t.rules").tables[0].chains[0].rules[0]
    match = next(e for e in rule.exprs if isinstance(e, XtMatch) and e.name == "limit")
    result = matches.entry_for(match).evaluate(match, _ctx())
    assert isinstance(result, Unknown)
    assert result.reason.startswith("-m limit: ")
    assert "XtMatch" not in result.reason and "nft" not in result.reason
