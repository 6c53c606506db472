"""Issue 29.13: a snapshot with 50,000 listening sockets made `audit` run past 60 s. Two
quadratic parts: every packet delivered scanned every socket of its port (sockets_for), and
every socket's exposure was analysed again although sockets alike but for their process have
one answer. Counted here (operations, not seconds); bench/many_sockets.py measures the time."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from nflens.analysis.exposure import ExposureAnalysis
from nflens.kernel.simulate import Simulator
from nflens.snapshot import read_snapshot
from tests.inprocess import lab_copy


def _many(tmp_path, n):
    snap = lab_copy(tmp_path)
    host = read_snapshot(snap)
    first = host.sockets[0]
    copies = tuple(dataclasses.replace(first, pid=1000 + i) for i in range(n))
    return dataclasses.replace(host, sockets=host.sockets + copies), first


class _Addr(ipaddress.IPv4Address):
    """An address that counts its comparisons (what a scan of the sockets does)."""

    compares = 0

    def __eq__(self, other):
        type(self).compares += 1
        return super().__eq__(other)

    __hash__ = ipaddress.IPv4Address.__hash__


@pytest.mark.parametrize("n", [200, 2000])
def test_exposures_of_identical_sockets_cost_one_analysis(tmp_path, n):
    host, first = _many(tmp_path, n)
    analysis = ExposureAnalysis(host)
    calls = []
    run = analysis.sim.run
    analysis.sim.run = lambda flow: calls.append(flow) or run(flow)
    one = analysis.socket(first)
    simulations = len(calls)
    for s in host.sockets:
        if (s.proto, s.addr, s.port) == (first.proto, first.addr, first.port):
            assert analysis.socket(s).to_json()["reachable_from"] == \
                one.to_json()["reachable_from"]
    assert len(calls) == simulations  # was n + 1 times as many


def test_delivering_a_packet_does_not_scan_the_sockets(tmp_path):
    host, first = _many(tmp_path, 5000)
    sockets = tuple(dataclasses.replace(x, addr=_Addr(str(x.addr)))
                    if x.addr.version == 4 else x for x in host.sockets)
    model = Simulator(dataclasses.replace(host, sockets=sockets)).model
    model.sockets_for(first.proto, first.addr, first.port)  # builds the index
    _Addr.compares = 0
    for _ in range(100):
        assert model.socket_for(first.proto, first.addr, first.port) is not None
        assert model.sockets_for(first.proto, first.addr, first.port)[0].pid == first.pid
    assert _Addr.compares < 1000  # was 5,000 per lookup
