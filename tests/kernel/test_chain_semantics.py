"""Chain semantics that need no match module: verdicts, base chain order, jump/goto/return."""

from __future__ import annotations

import ipaddress as ip

from nflens.ir.host import Socket
from nflens.ir.packet import Endpoint, Flow
from nflens.ir.rules import Action, Chain, Table
from nflens.kernel.simulate import Simulator
from tests.kernel.hosts import base, docker_host, rule

HOST_SVC = (Socket("tcp", ip.ip_address("0.0.0.0"), 8000, "busybox"),)


def lan_to(port: int, dst: str = "10.99.0.1") -> Flow:
    return Flow("t", Endpoint(iface="eth0", src=ip.ip_address("10.99.0.2")), ip.ip_address(dst),
                port)


def run(tables, flow, sockets=HOST_SVC):
    return Simulator(docker_host(tables, sockets)).run(flow)


def test_no_rules_lets_a_connection_to_a_listening_socket_through():
    assert run((), lan_to(8000)).verdict == "allow"


def test_a_closed_port_answers_rst_and_the_flow_is_denied():
    result = run((), lan_to(9999))
    assert result.verdict == "deny"
    assert "nothing listens" in result.reason


def test_input_policy_drop_denies_and_names_the_policy():
    t = Table("ip", "filter", (base("INPUT", "input", 0, policy="drop"),))
    result = run((t,), lan_to(8000))
    assert result.verdict == "deny"
    assert result.stopped_policy == ("ip", "filter", "INPUT", "drop")


def test_accept_ends_only_its_own_base_chain_a_later_drop_still_wins():
    first = Table("ip", "filter", (base("INPUT", "input", 0, rule(Action("accept"))),))
    later = Table("inet", "fw", (base("in", "input", 10, rule(Action("drop"), line=7)),))
    result = run((first, later), lan_to(8000))
    assert result.verdict == "deny"
    assert result.stopped_at.table == "fw" and result.stopped_at.rule.source.line == 7


def test_base_chains_run_in_priority_order_not_file_order():
    late = Table("inet", "late", (base("in", "input", 10, rule(Action("drop"), line=2)),))
    early = Table("inet", "early", (base("in", "input", -10, rule(Action("drop"), line=1)),))
    result = run((late, early), lan_to(8000))
    assert result.stopped_at.table == "early"


def test_jump_then_return_continues_after_the_jump():
    user = Chain("USER", (rule(Action("return")),))
    t = Table("ip", "filter", (base("INPUT", "input", 0,
                                    rule(Action("jump", (("chain", "USER"),))),
                                    rule(Action("drop"), line=3)), user))
    assert run((t,), lan_to(8000)).stopped_at.rule.source.line == 3


def test_goto_does_not_come_back_and_falls_to_the_policy():
    user = Chain("USER", ())
    t = Table("ip", "filter", (base("INPUT", "input", 0, rule(Action("goto", (("chain", "USER"),))),
                                    rule(Action("drop"), line=3), policy="accept"), user))
    assert run((t,), lan_to(8000)).verdict == "allow"


def test_reject_denies_and_is_reported_as_the_deciding_rule():
    t = Table("ip", "filter", (base("INPUT", "input", 0, rule(Action("reject"), line=4)),))
    result = run((t,), lan_to(8000))
    assert result.verdict == "deny" and result.stopped_at.rule.source.line == 4


def test_output_drop_blocks_the_reply_of_an_inbound_connection():
    t = Table("ip", "filter", (base("OUTPUT", "output", 0, policy="drop"),))
    result = run((t,), lan_to(8000))
    assert result.verdict == "deny"
    assert result.reason.startswith("reply")


def test_an_unmodelled_target_that_could_drop_makes_the_verdict_uncertain_and_names_it():
    t = Table("ip", "filter", (base("INPUT", "input", 0,
                                    rule(Action("xt", (("name", "FANCY"),)), line=9)),))
    result = run((t,), lan_to(8000))
    assert result.verdict == "uncertain"
    assert any("FANCY" in why and "test.rules:9" in why for why in result.uncertain_because)


def test_an_unmodelled_target_that_cannot_matter_leaves_the_verdict_certain():
    t = Table("ip", "filter", (base("INPUT", "input", 0, rule(Action("drop"), line=1),
                                    rule(Action("xt", (("name", "FANCY"),)), line=2)),))
    assert run((t,), lan_to(8000)).verdict == "deny"
