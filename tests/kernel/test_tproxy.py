"""Issue 24 class 12: TPROXY hands a packet to a local transparent listener (kernel/tproxy.py).
Before, iptables' TPROXY was an opaque target and nft's tproxy statement did nothing. The lab
proves each case: tests/lab/test_lab_netfilter_decisions.py (the tproxy test)."""

from __future__ import annotations

import ipaddress as ip
from dataclasses import replace

from nflens.dialects import iptables
from nflens.ir.host import PolicyRule, Route, Socket
from nflens.ir.packet import Endpoint, Flow
from nflens.ir.rules import Action, NftCmp, NftExpr, Table
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import base, docker_host, rule

MANGLE = """\
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j TPROXY --on-port {port} --tproxy-mark 0x1/0x1
COMMIT
*filter
:FORWARD DROP [0:0]
COMMIT
"""
LISTENER = Socket("tcp", ip.ip_address("0.0.0.0"), 8444, "envoy")
LOCAL_ROUTE = (Route(ip.ip_network("0.0.0.0/0"), "local", "100", "lo"),)
RULES = (PolicyRule(0, "local"), PolicyRule(100, "100", fwmark=1, fwmask=0xFFFFFFFF),
         PolicyRule(32766, "main"), PolicyRule(32767, "default"))


def _host(tables, local_route=True):
    host = docker_host(tables, sockets=(LISTENER,))
    if local_route:
        host = replace(host, routes=host.routes + LOCAL_ROUTE, policy_rules=RULES)
    return host


def _flow(port=80):
    return Flow("t", Endpoint(iface="eth1", src=ip.ip_address("198.51.100.2")),
                ip.ip_address("172.17.0.2"), port)


def test_iptables_tproxy_delivers_to_the_transparent_listener_and_names_the_assumption():
    rs = iptables.parse(MANGLE.format(port=8444), "iptables-save.txt", family="ip")
    assert rs.unsupported == ()
    result = Simulator(_host(rs.tables)).run(_flow())
    assert result.verdict == "allow"  # although FORWARD's policy is DROP
    assert any("IP_TRANSPARENT" in a for a in result.assumptions)
    assert any("envoy" in getattr(s, "endpoint", "") for s in result.steps)


def test_iptables_tproxy_without_a_listener_drops():
    rs = iptables.parse(MANGLE.format(port=8445), "iptables-save.txt", family="ip")
    result = Simulator(_host(rs.tables)).run(_flow())
    assert result.verdict == "deny"
    assert result.stopped_at is not None and "TPROXY" in result.stopped_at.rule.text


def test_a_diverted_packet_without_a_local_route_is_dropped_by_ip_forward():
    fwd_open = MANGLE.format(port=8444).replace(":FORWARD DROP", ":FORWARD ACCEPT")
    rs = iptables.parse(fwd_open, "iptables-save.txt", family="ip")
    result = Simulator(_host(rs.tables, local_route=False)).run(_flow())
    assert result.verdict == "deny"
    assert "route is not local" in result.reason


def test_nft_tproxy_without_a_listener_breaks_the_rule_and_the_chain_goes_on():
    dport80 = NftCmp("==", NftExpr("payload", (("field", "dport"), ("protocol", "tcp"))), 80)
    pre = Table("ip", "tp", (base("pre", "prerouting", -150,
                                  rule(dport80, Action("tproxy", (("port", 8446),)),
                                       Action("drop")),
                                  rule(Action("drop"), line=2)),))
    result = Simulator(_host((pre,))).run(_flow())
    assert result.verdict == "deny"
    assert result.stopped_at is not None and result.stopped_at.index == 2  # not rule 1's drop


def test_the_tproxy_target_is_written_back_as_iptables_wrote_it():
    rs = iptables.parse(MANGLE.format(port=8444), "iptables-save.txt", family="ip")
    text = iptables.generate(rs)
    assert "-j TPROXY --on-port 8444 --tproxy-mark 0x1/0x1" in text
    again = iptables.parse(text, "again", family="ip")
    assert again.tables[0].chains[0].rules[0].exprs == rs.tables[0].chains[0].rules[0].exprs


def test_a_dnat_after_the_divert_leaves_the_ack_to_the_listener_which_resets_it():
    """Fuzz case 24030-24: TPROXY in mangle (-150), then a nat PREROUTING DNAT (-100) of the
    same SYN. The request socket is made at the DNAT's address; the handshake ACK, seen by
    TPROXY before the DNAT, misses it, is handed to the listener and reset (the lab: TcpOutRsts
    1, TcpPassiveOpens 0). Without the DNAT the first test above connects."""
    text = MANGLE.format(port=8444).replace("*filter", "*nat\n:PREROUTING ACCEPT [0:0]\n"
                                            "-A PREROUTING -p tcp -j DNAT --to-destination "
                                            "172.17.0.9:80\nCOMMIT\n*filter")
    rs = iptables.parse(text, "iptables-save.txt", family="ip")
    result = Simulator(_host(rs.tables)).run(_flow())
    assert result.verdict == "deny"
    assert "handshake ACK" in result.reason and "RST" in result.reason
