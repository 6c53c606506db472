"""xt_addrtype (net/netfilter/xt_addrtype.c): the address type from the host's FIB, limited to
one device with --limit-iface-in/out."""

from __future__ import annotations

import ipaddress

import pytest

from nflens.dialects import iptables
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import PacketContext, Unknown
from nflens.kernel.matches import xt_addrtype

IP = ipaddress.ip_address


class Env:
    """Every address is LOCAL on eth0 and UNICAST elsewhere."""

    def addr_type(self, addr, iface=None):
        return "LOCAL" if iface in (None, "eth0") else "UNICAST"


def _match(options: str) -> XtMatch:
    rs = iptables.parse(f"*filter\n:INPUT ACCEPT\n-A INPUT {options} -j ACCEPT\nCOMMIT\n", "t")
    expr = rs.table("ip", "filter").chain("INPUT").rules[0].exprs[0]
    assert isinstance(expr, XtMatch)
    return expr


def _ctx(iif):
    pkt = Packet(IP("10.0.0.2"), IP("10.0.0.1"), "tcp", 40000, 22)
    return PacketContext(pkt=pkt, family="ip", hook="input", env=Env(), iif=iif)


def test_limit_iface_in_reads_the_input_device():
    match = _match("-m addrtype --dst-type LOCAL --limit-iface-in")
    assert xt_addrtype.evaluate(match, _ctx("eth0")) is True
    assert xt_addrtype.evaluate(match, _ctx("eth1")) is False


@pytest.mark.parametrize("family", [4, 6])
def test_limit_iface_in_on_a_device_left_open_is_unknown(family):
    """An input device a symbolic question leaves open (an Unknown) was handed to the host's
    address-type lookup as a device name, which answered as for no limit (found typing
    PacketContext.iif, issue 17.8)."""
    match = _match("-m addrtype --dst-type LOCAL --limit-iface-in")
    ctx = _ctx(Unknown("input interface"))
    if family == 6:
        pkt = Packet(IP("2001:db8::2"), IP("2001:db8::1"), "tcp", 40000, 22)
        ctx = PacketContext(pkt=pkt, family="ip6", hook="input", env=Env(), iif=ctx.iif)
    assert isinstance(xt_addrtype.evaluate(match, ctx), Unknown)
