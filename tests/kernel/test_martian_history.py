"""fib_validate_source's shortcut hangs on the namespace's history (fib_frontend.c): with
rp_filter=0 and no custom rule or `local` route it does no reverse lookup, but the kernel's
fib_has_custom_rules / fib_has_custom_local_routes flags are never cleared, so a rule added
and deleted again makes it do the full check for the namespace's life. Seen in the lab
(tests/lab/test_lab_routing_decisions.py::test_a_broadcast_address_source, `0-after-a-rule`:
a source that is a broadcast address of the router becomes a martian). The snapshot cannot
show that history: where the full check would refuse, nflens explores it, by name."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from nflens.kernel.hostmodel import HostModel
from nflens.kernel.journey import martian_source
from nflens.snapshot.read import read_snapshot

SNAP = Path(__file__).parents[1] / "fixtures" / "routing" / "broadcast-source-rp0"
IP = ipaddress.ip_address


class Recorder:
    def __init__(self, choice: bool):
        self.choice, self.seen = choice, {}

    def __call__(self, key: str, reason: str) -> bool:
        self.seen[key] = reason
        return self.choice


def test_a_refusal_only_the_full_check_makes_is_an_explored_assumption():
    model = HostModel(read_snapshot(SNAP))
    fresh, ever = Recorder(False), Recorder(True)
    src, dst = IP("10.9.0.255"), IP("10.2.0.1")
    assert martian_source(model, src, "rb", dst, decide=fresh) is None
    assert martian_source(model, src, "rb", dst, decide=ever) == "a broadcast address as source"
    assert "no custom `ip rule`" in fresh.seen["fib-custom-history"]


def test_an_ordinary_source_explores_nothing():
    model = HostModel(read_snapshot(SNAP))
    rec = Recorder(True)
    assert martian_source(model, IP("10.2.0.2"), "rb", IP("10.2.0.1"), decide=rec) is None
    assert "fib-custom-history" not in rec.seen
