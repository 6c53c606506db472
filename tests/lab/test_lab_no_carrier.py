"""A route through a device that is up without carrier, on a real kernel (issue 25): a veth
whose peer is down shows NO-CARRIER in `ip -j link`; with ignore_routes_with_linkdown=0 the
route (flagged linkdown) is still chosen and a connection through it times out. nflens's own
collector snapshots the namespace and check must say deny, naming the carrier."""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path

import pytest

from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from nflens.lab import probes
from nflens.lab.netns import Lab, leftovers, run_in
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot

pytestmark = pytest.mark.lab


@pytest.mark.timeout(60)
def test_route_via_a_no_carrier_device_is_used_and_the_connection_dies():
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-nocarrier-") as tmp:
        host, peer = lab.add_netns("host"), lab.add_netns("peer")
        lab.add_veth(host, "eth1", peer, "eth0")
        lab.add_addr(host, "eth1", "10.5.0.1/24")
        lab.add_addr(peer, "eth0", "10.5.0.2/24")
        run_in(peer, ["ip", "link", "set", "eth0", "down"], runner=lab.runner)
        link = run_in(host, ["ip", "-j", "link", "show", "eth1"], runner=lab.runner).stdout
        kernel = probes.from_netns(host, "10.5.0.2", 80, runner=lab.runner)
        snap = Path(tmp) / "snap"
        snap.mkdir()
        collect(snap, netns=host)
        said = Simulator(read_snapshot(snap)).run(
            Flow("host-peer", Endpoint(host=True), ipaddress.ip_address("10.5.0.2"), 80))
        lab_id = lab.id
    assert "NO-CARRIER" in link
    assert kernel.outcome == "deny" and "timeout" in kernel.detail
    assert said.verdict == "deny" and "no carrier" in said.reason
    assert leftovers(lab_id) == []
