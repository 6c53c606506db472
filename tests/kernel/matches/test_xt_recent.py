"""-m recent (net/netfilter/xt_recent.c) as `ufw limit` writes it, on a lone connection.

Found in the lab (tests/fixtures/lab/ufw_docker-*): the real ufw 0.36's `ufw limit 8000/tcp`
lets single connections through, and the simulator said `uncertain` ("match 'recent' is not
modelled") for every flow to the limited port.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from nflens.dialects.iptables.parser import parse
from nflens.flows import load_flows
from nflens.ir.packet import Packet
from nflens.kernel.context import PacketContext, Unknown
from nflens.kernel.matches import lookup
from nflens.kernel.matches.xt_recent import ASSUMED, RecentLists
from nflens.kernel.simulate import Simulator
from nflens.snapshot.read import read_snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lab"
UFW_LIMIT = ("-A INPUT -p tcp -m tcp --dport 8000 -m conntrack --ctstate NEW -m recent --set "
             "--name DEFAULT --mask 255.255.255.255 --rsource\n"
             "-A INPUT -p tcp -m tcp --dport 8000 -m conntrack --ctstate NEW -m recent --update "
             "--seconds 30 --hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j DROP\n")


def _recent_matches(text: str):
    rs = parse(f"*filter\n:INPUT ACCEPT [0:0]\n{text}COMMIT\n")
    rules = rs.table("ip", "filter").chain("INPUT").rules
    return [next(e for e in r.exprs if getattr(e, "name", None) == "recent") for r in rules]


def _ctx(lists, src="198.51.100.2"):
    pkt = Packet(ipaddress.ip_address(src), ipaddress.ip_address("198.51.100.1"), "tcp", 40000,
                 8000)
    extra = (("recent", lists),) if lists is not None else ()
    return PacketContext(pkt=pkt, family="ip", hook="input", env=None, extra=extra)


def test_ufw_limit_lets_the_first_five_connections_of_a_source_through_not_the_sixth():
    set_, update = _recent_matches(UFW_LIMIT)
    mod = lookup("xt", "recent")
    lists = RecentLists([])
    seen = []
    for _ in range(7):  # one SYN per connection, as ufw's --ctstate NEW gates it
        assert mod.evaluate(set_, _ctx(lists)) is True
        seen.append(mod.evaluate(update, _ctx(lists)))
    # the kernel: stamps 1..5 < hitcount 6; the sixth --set makes 6 stamps: the update matches
    assert seen == [False] * 5 + [True, True]
    assert lists.assumed == [ASSUMED]


def test_recent_lists_are_per_source_under_the_mask():
    set_, update = _recent_matches(UFW_LIMIT.replace("--hitcount 6", "--hitcount 1"))
    mod = lookup("xt", "recent")
    lists = RecentLists([])
    assert mod.evaluate(update, _ctx(lists, "10.0.0.1")) is False  # nothing set yet
    mod.evaluate(set_, _ctx(lists, "10.0.0.1"))
    assert mod.evaluate(update, _ctx(lists, "10.0.0.1")) is True
    assert mod.evaluate(update, _ctx(lists, "10.0.0.2")) is False


def test_without_per_flow_lists_recent_is_unknown():
    set_, _ = _recent_matches(UFW_LIMIT)
    assert isinstance(lookup("xt", "recent").evaluate(set_, _ctx(None)), Unknown)


@pytest.mark.parametrize("fixture", ["ufw_docker-broken", "ufw_docker-ufw-docker"])
def test_real_ufw_limit_flows_are_allowed_with_the_assumption_named(fixture):
    snap = FIXTURES / fixture
    if not snap.is_dir():
        pytest.skip(f"{fixture} not generated")
    sim = Simulator(read_snapshot(snap))
    flows = {f.name: f for f in load_flows(snap / "flows.json")}
    for name in ("lan-limited-svc", "wan-limited-svc", "web-to-host-limited"):
        result = sim.run(flows[name])
        assert result.verdict == "allow", result.reason
        assert ASSUMED in result.assumptions
