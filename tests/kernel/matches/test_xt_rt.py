"""-m rt (ip6t_rt.c): false on a packet without a routing header, whatever `!` says; the
packets nflens models have none. ufw's before6.rules starts ufw6-before-input and
ufw6-before-forward with `-m rt --rt-type 0 -j DROP`: while rt was unmodelled every IPv6
verdict through ufw was uncertain, and the ufw fix dropped the office ufw admits (issue 14)."""

from __future__ import annotations

import ipaddress

from nflens.dialects import iptables
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel import matches
from nflens.kernel.context import PacketContext
from nflens.kernel.matches import xt_rt
from nflens.kernel.region import NULL_HOST

IP = ipaddress.ip_address


def _parsed(options: str):
    return iptables.parse(f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {options} -j DROP\nCOMMIT\n",
                          "t.rules", "ip6")


def _ctx():
    pkt = Packet(IP("2001:db8:1::2"), IP("2001:db8:1::1"), "tcp", 40000, 8080)
    return PacketContext(pkt=pkt, family="ip6", hook="input", env=NULL_HOST)


def test_rt_is_parsed_and_not_reported_unsupported():
    rs = _parsed("-m rt --rt-type 0")
    assert rs.unsupported == ()
    assert matches.lookup("xt", "rt") is xt_rt


def test_rt_never_matches_a_packet_without_a_routing_header():
    for options in ("-m rt --rt-type 0", "-m rt ! --rt-type 0", "-m rt --rt-segsleft 0:5"):
        expr = _parsed(options).table("ip6", "filter").chain("INPUT").rules[0].exprs[0]
        assert isinstance(expr, XtMatch) and expr.name == "rt"
        assert xt_rt.evaluate(expr, _ctx()) is False, options
        assert xt_rt.constrain(expr, _ctx()).empty, options
