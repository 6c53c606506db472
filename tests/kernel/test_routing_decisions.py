"""Policy routing as the kernel decides it (issue 24 classes 1-5), without root.

tests/fixtures/routing/*/ are the lab's scenarios (tests/lab/test_lab_routing_decisions.py,
recorded with NFLENS_RECORD_ROUTING): the router's snapshot as nflens's collector took it, the
flows, the kernel's outcomes (each probed twice, both the same) and the flows where the
verdict hangs on what the snapshot cannot show (`uncertain`). Every flow is replayed here;
the unit tests below pin the pieces: the reader of `ip -j rule show`, suppress_prefixlength,
port and protocol selectors, goto, and uidrange as an explored assumption.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from nflens.flows import load_flows
from nflens.ir.host import PolicyRule, Route
from nflens.kernel.routing import Fib, FlowKeys
from nflens.kernel.simulate import Simulator
from nflens.snapshot.hostfiles import policy_rules
from nflens.snapshot.read import read_snapshot

FIXTURES = Path(__file__).parents[1] / "fixtures" / "routing"
IP = ipaddress.ip_address
NET = ipaddress.ip_network


def _cases():
    for snap in sorted(p.parent for p in FIXTURES.glob("*/expected.json")):
        expected = json.loads((snap / "expected.json").read_text())
        for flow in load_flows(snap / "flows.json"):
            want = ("uncertain" if flow.name in expected["uncertain"]
                    else expected["expected"][flow.name])
            yield pytest.param(snap, flow, want, id=f"{snap.name}:{flow.name}")


_SIMS: dict[Path, Simulator] = {}


@pytest.mark.parametrize("snap,flow,want", list(_cases()))
def test_lab_scenario_verdict_is_the_kernels(snap, flow, want):
    if snap not in _SIMS:
        _SIMS[snap] = Simulator(read_snapshot(snap))
    result = _SIMS[snap].run(flow)
    assert result.verdict == want, result.reason


def test_there_are_lab_scenarios_to_replay():
    assert len(list(FIXTURES.glob("*/expected.json"))) >= 8


# `ip -j rule show` of iproute2 6.x for the rules of a wg-quick host and selector rules
RULE_JSON = [
    {"priority": 0, "src": "all", "table": "local"},
    {"priority": 100, "src": "all", "table": "main", "suppress_prefixlen": 0},
    {"priority": 200, "src": "all", "uid_start": 1000, "uid_end": 2000, "ipproto": "tcp",
     "sport": 1000, "dport_start": 80, "dport_end": 90, "table": "100"},
    {"priority": 250, "not": None, "src": "10.0.0.0", "srclen": 8, "fwmark": "0x5",
     "fwmask": "0xff", "iif": "lo", "oif": "eth9", "oif_detached": None, "goto": 300},
    {"priority": 300, "src": "all", "ipproto": "sctp", "dport": 22, "action": "blackhole"},
    {"priority": 400, "src": "all", "tos": "0x10", "table": "main"},
    {"priority": 32766, "src": "all", "table": "main"},
]


def test_reader_keeps_every_selector_of_ip_rule_show():
    rules = {r.priority: r for r in policy_rules(RULE_JSON, "ip-rule.json")}
    assert rules[100].suppress_prefixlen == 0
    r200 = rules[200]
    assert (r200.ipproto, r200.sport, r200.dport, r200.uidrange) == (6, (1000, 1000), (80, 90),
                                                                    (1000, 2000))
    assert (rules[250].action, rules[250].table, rules[250].not_) == ("goto", "300", True)
    assert (rules[300].ipproto, rules[300].dport, rules[300].action) == (132, (22, 22),
                                                                        "blackhole")
    assert rules[400].unmodelled == ("tos 0x10",)
    assert not rules[32766].selective and rules[100].selective


def _fib(*rules: PolicyRule, routes: tuple[Route, ...] = ()) -> Fib:
    base = (Route(NET("10.0.0.0/24"), dev="eth0"), Route(NET("0.0.0.0/0"), dev="eth1",
                                                         gateway=IP("192.0.2.1")),
            Route(NET("0.0.0.0/0"), type="blackhole", table="100"))
    return Fib(base + routes, (PolicyRule(32766, "main"),) + rules)


def test_suppress_prefixlength_zero_ignores_only_the_default_route():
    """wg-quick: `table main suppress_prefixlength 0` then `table 100`: main's default route
    is suppressed (the next rule's table decides), its /24 is not."""
    fib = _fib(PolicyRule(100, "main", suppress_prefixlen=0), PolicyRule(110, "100"))
    assert fib.lookup(IP("10.0.0.5")).oif == "eth0"
    assert fib.lookup(IP("198.51.100.1")).type == "blackhole"


def test_protocol_and_port_selectors_match_only_their_packets():
    fib = _fib(PolicyRule(100, "100", ipproto=6, dport=(8000, 8100)))
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(6, 40000, 8080)).type == "blackhole"
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(6, 40000, 80)).type == "unicast"
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(17, 40000, 8080)).type == "unicast"


def test_goto_skips_to_the_target_priority():
    fib = _fib(PolicyRule(50, "200", action="goto"), PolicyRule(100, "100"),
               PolicyRule(200, "main"))
    assert fib.lookup(IP("10.0.0.5")).type == "unicast"


def test_unknown_uid_asks_the_oracle_and_is_not_remembered():
    fib = _fib(PolicyRule(100, "100", uidrange=(1000, 2000)))
    asked: list[str] = []

    def decide(key: str, reason: str) -> bool:
        asked.append(reason)
        return True

    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(uid=0)).type == "unicast"
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(uid=1500)).type == "blackhole"
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(uid=None), decide=decide).type == "blackhole"
    assert fib.lookup(IP("10.0.0.5"), keys=FlowKeys(uid=None)).type == "unicast"
    assert asked and "uidrange 1000-2000" in asked[0]


def test_a_lookup_without_source_has_source_zero():
    """fib4_rule_match compares saddr 0 against `from`: `from 0.0.0.0/8` matches it."""
    fib = _fib(PolicyRule(100, "100", src=NET("0.0.0.0/8")))
    assert fib.lookup(IP("10.0.0.5")).type == "blackhole"
    assert fib.lookup(IP("10.0.0.5"), IP("10.0.0.1")).type == "unicast"


def test_ss_e_gives_socket_owners_root_when_only_ino_is_shown():
    from nflens.snapshot.hostfiles import sockets

    text = ('tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=7,fd=3)) ino:266 sk:1 '
            'cgroup:/ <->\n'
            'tcp LISTEN 0 128 127.0.0.1:4799 0.0.0.0:* users:(("py",pid=9,fd=3)) uid:1234 '
            'ino:5410 sk:2 cgroup:/ <->\n'
            'tcp LISTEN 0 128 0.0.0.0%eth0:80 0.0.0.0:* users:(("nginx",pid=8,fd=6))\n')
    got = [(s.port, s.uid, s.iface) for s in sockets(text, "ss.txt")]
    assert got == [(22, 0, None), (4799, 1234, None), (80, None, "eth0")]


def test_ss_prints_an_ipv6_sockets_device_after_the_bracket():
    """ss's own spelling, from the fuzzer's router (`[fd02::1]%ra:8081`, `[::]%ra:8081`): the
    reader refused it as a bad local address before, and every flow of such a host failed."""
    from nflens.snapshot.hostfiles import sockets

    text = ('udp UNCONN 0 0 [fd02::1]%ra:8081 [::]:* users:(("py",pid=9,fd=114)) ino:2 sk:1 '
            'cgroup:/ v6only:1 <->\n'
            'tcp LISTEN 0 1024 [::]%ra:8081 [::]:* users:(("py",pid=9,fd=110)) ino:3 sk:2 '
            'cgroup:/ v6only:1 <->\n')
    got = [(str(s.addr), s.port, s.iface) for s in sockets(text, "ss.txt")]
    assert got == [("fd02::1", 8081, "ra"), ("::", 8081, "ra")]
