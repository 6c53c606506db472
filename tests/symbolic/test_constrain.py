"""One semantics: a match's symbolic side (`constrain`) accepts exactly the addresses its
concrete side (`evaluate`) accepts, for every option the real-world dumps use."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nflens.dialects import parse_file
from nflens.ir.packet import Packet
from nflens.ir.rules import XtMatch
from nflens.kernel.context import CtView, PacketContext, Unknown
from nflens.kernel.matches import module_for
from nflens.symbolic.region import Region

from tests.conftest import SHARED

DUMPS = SHARED / "corpus" / "real-world"


@lru_cache(maxsize=None)
def _matches() -> list[XtMatch]:
    out = []
    files = sorted(DUMPS.glob("*"), key=lambda p: p.stat().st_size)[-12:-2] if DUMPS.is_dir() else []
    for f in files:
        try:
            rs = parse_file(f)
        except Exception:  # noqa: BLE001 - the corpus has non-dumps; they have their own test
            continue
        for t in rs.tables:
            if t.family != "ip":
                continue
            for c in t.chains:
                for r in c.rules:
                    out += [e for e in r.exprs if isinstance(e, XtMatch)
                            and hasattr(module_for(e.name), "constrain")]
    return out


def _ctx(src, dst, sport, dport, proto):
    pkt = Packet(src, dst, proto, sport, dport)
    return PacketContext(pkt=pkt, family="ip", hook="forward", env=None, iif="eth0",
                         oif="eth1", ct=CtView(state="NEW"))


def _inside(value: int, intervals) -> bool:
    return intervals is None or any(lo <= value <= hi for lo, hi in intervals)


@pytest.mark.skipif(not DUMPS.is_dir(), reason="../shared/corpus/real-world is absent")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_constrain_agrees_with_evaluate(data):
    matches = _matches()
    match = data.draw(st.sampled_from(matches))
    # addresses near the match's own constants are the interesting ones
    consts = [int(o.value.network_address) for o in match.opts
              if isinstance(o.value, ipaddress.IPv4Network)] or [0]
    pick = st.one_of(st.integers(0, 2**32 - 1),
                     st.sampled_from(consts).flatmap(lambda c: st.integers(max(0, c - 2),
                                                                           min(2**32 - 1, c + 300))))
    src, dst = ipaddress.IPv4Address(data.draw(pick)), ipaddress.IPv4Address(data.draw(pick))
    proto = data.draw(st.sampled_from(["tcp", "udp"]))
    sport, dport = data.draw(st.integers(1, 65535)), data.draw(st.sampled_from([22, 80, 443, 8080]))
    module = module_for(match.name)
    concrete = module.evaluate(match, _ctx(src, dst, sport, dport, proto))
    zero = ipaddress.IPv4Address(0)
    region: Region = module.constrain(match, _ctx(zero, zero, sport, dport, proto))
    if isinstance(concrete, Unknown):
        assert region.unknown, (match, concrete.reason)
        return
    if region.unknown:
        return  # the symbolic side may stay unsure where a concrete packet decides
    symbolic = not region.empty and _inside(int(src), region.src) and _inside(int(dst),
                                                                               region.dst)
    assert bool(concrete) == symbolic, (match, str(src), str(dst))
