"""-m conntrack without an entry (net/netfilter/xt_conntrack.c conntrack_mt): --ctstate is
tested with its `!`, then `if (ct == NULL) return info->match_flags & XT_CONNTRACK_STATE;`.
A NOTRACKed packet has no entry either (nf_ct_get returns NULL, ctinfo IP_CT_UNTRACKED), so
`! --ctstatus ASSURED` does not match it: fuzz case 20261207-2444 (an untracked UDP flow
accepted by `-m conntrack ! --ctstatus ASSURED -j ACCEPT`, the kernel dropping it further
down) found the simulator matching it."""

from __future__ import annotations

import ipaddress

import pytest

from nflens.dialects import iptables
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import CtView, PacketContext
from nflens.kernel.matches import xt_conntrack
from nflens.kernel.region import NULL_HOST

IP = ipaddress.ip_address


def _match(options: str) -> XtMatch:
    rs = iptables.parse(f"*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD {options} -j DROP\n"
                        "COMMIT\n", "t.rules", "ip6")
    expr = rs.table("ip6", "filter").chain("FORWARD").rules[0].exprs[0]
    assert isinstance(expr, XtMatch) and expr.name == "conntrack"
    return expr


def _ctx(ct: CtView | None) -> PacketContext:
    pkt = Packet(IP("fd02::2"), IP("fd01::3"), "udp", 47603, 8080)
    return PacketContext(pkt=pkt, family="ip6", hook="forward", env=NULL_HOST, ct=ct)


UNTRACKED = CtView(state="UNTRACKED")
NEW = CtView(state="NEW", status=frozenset(), direction="ORIGINAL", proto="udp")


@pytest.mark.parametrize("options", [
    "-m conntrack ! --ctstatus ASSURED", "-m conntrack --ctstatus CONFIRMED",
    "-m conntrack ! --ctdir REPLY", "-m conntrack ! --ctorigdst fd02::3",
    "-m conntrack ! --ctproto tcp"])
def test_options_beyond_the_state_never_match_without_an_entry(options):
    match = _match(options)
    for ct in (UNTRACKED, None):
        assert xt_conntrack.evaluate(match, _ctx(ct)) is False, (options, ct)


def test_the_state_alone_decides_without_an_entry():
    """The state test passes: the other options are not looked at, whatever they say."""
    assert xt_conntrack.evaluate(_match("-m conntrack --ctstate UNTRACKED --ctdir REPLY"),
                                 _ctx(UNTRACKED)) is True
    assert xt_conntrack.evaluate(_match("-m conntrack --ctstate INVALID ! --ctstatus NONE"),
                                 _ctx(None)) is True
    assert xt_conntrack.evaluate(_match("-m conntrack ! --ctstate NEW --ctstatus ASSURED"),
                                 _ctx(UNTRACKED)) is True
    assert xt_conntrack.evaluate(_match("-m conntrack --ctstate NEW ! --ctstatus ASSURED"),
                                 _ctx(UNTRACKED)) is False


def test_with_an_entry_the_negation_still_applies():
    assert xt_conntrack.evaluate(_match("-m conntrack ! --ctstatus ASSURED"), _ctx(NEW)) is True
