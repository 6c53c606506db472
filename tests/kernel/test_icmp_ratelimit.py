"""A handshake ACK refused with an ICMP error fails the connection only if the error is sent,
and the host's ICMP rate limit (icmp_ratemask, per-destination buckets) may suppress it:
state no snapshot has. Fuzz case 20261207-2122 found it (the long run's router had sent the
same peer errors just before: the kernel let the connection stand, the simulator refused it;
replayed on a quiet router the kernel refused it too). The verdict stays the quiet host's and
the assumption is named — unless the sysctls exempt the error from the limit."""

from __future__ import annotations

from dataclasses import replace

from nflens.flows import load_flows
from nflens.ir.host import Host
from nflens.kernel import icmplimit
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.simulate import Simulator
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

CASE = REPO / "tests" / "fixtures" / "fuzz" / "case-5-54"  # INPUT -i rb -p tcp -j REJECT (ICMP)


def _run(host: Host, name: str = "f2-br-tcp"):
    flow = next(f for f in load_flows(CASE / "flows.json") if f.name == name)
    return Simulator(host).run(flow)


def _with(host: Host, key: str, value: str) -> Host:
    return replace(host, sysctls=((key, value),) + host.sysctls)


def test_an_icmp_refusal_of_the_handshake_ack_names_the_rate_limit():
    result = _run(read_snapshot(CASE))
    assert result.verdict == "deny" and "handshake ACK" in result.reason
    assert any("rate limit" in a and "icmp_ratemask" in a for a in result.assumptions)


def test_no_assumption_when_the_ratemask_exempts_destination_unreachable():
    host = _with(read_snapshot(CASE), "net.ipv4.icmp_ratemask", str(6168 & ~(1 << 3)))
    result = _run(host)
    assert result.verdict == "deny"
    assert not any("rate limit" in a for a in result.assumptions)


def test_a_refusal_that_does_not_decide_names_nothing():
    """A RST (tcp-reset) is never rate-limited; a flow denied at its SYN does not hinge on it."""
    result = _run(read_snapshot(CASE), "f4-ab-tcp")
    assert not any("rate limit" in a for a in result.assumptions)


def test_ratemask_readings():
    host = read_snapshot(CASE)
    assert icmplimit.limited(HostModel(host), 4, 3)  # the default 6168 has bit 3
    assert icmplimit.limited(HostModel(host), 6, 1)  # "0-1,3-127"
    assert not icmplimit.limited(HostModel(_with(host, "net.ipv6.icmp.ratemask", "0,3-127")),
                                 6, 1)
    assert not icmplimit.limited(HostModel(host), 6, 2)  # packet too big: never limited
