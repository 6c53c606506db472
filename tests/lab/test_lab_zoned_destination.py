"""The host's own connection to `fe80::2%IFACE` on a real kernel (issue 25): two peers share
the link-local address fe80::2, one behind eth0, one behind eth1; the zone alone decides which
one answers (tcp_v6_connect binds the socket to the scope id's device). nflens, from its own
snapshot of the namespace, must route each zoned flow out of the zone's interface."""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path

import pytest

from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from nflens.lab import probes
from nflens.lab.netns import Lab, leftovers
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot

pytestmark = pytest.mark.lab


@pytest.mark.timeout(60)
def test_the_zone_picks_which_link_local_peer_answers():
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-zone-") as tmp:
        host = lab.add_netns("host")
        for dev, addr in (("eth0", "fe80::10/64"), ("eth1", "fe80::11/64")):
            peer = lab.add_netns(f"p{dev}")
            lab.add_veth(host, dev, peer, "eth0")
            lab.add_addr(host, dev, addr)
            lab.add_addr(peer, "eth0", "fe80::2/64")
            www = lab.add_dir(lab.state_dir / f"www-{dev}")
            (www / "index.html").write_text(f"nflens:{dev}\n")
            lab.spawn(peer, ["busybox", "httpd", "-f", "-p", "[::]:80", "-h", str(www)])
        kernel = {dev: probes.from_netns(host, f"fe80::2%{dev}", 80, runner=lab.runner)
                  for dev in ("eth0", "eth1")}
        snap = Path(tmp) / "snap"
        snap.mkdir()
        collect(snap, netns=host)
        sim = Simulator(read_snapshot(snap))
        said = {dev: sim.run(Flow(f"to-{dev}", Endpoint(host=True),
                                  ipaddress.ip_address("fe80::2"), 80, zone=dev))
                for dev in ("eth0", "eth1")}
        lab_id = lab.id
    for dev in ("eth0", "eth1"):
        assert kernel[dev].outcome == "allow" and kernel[dev].token == f"nflens:{dev}", \
            kernel[dev].detail
        assert said[dev].verdict == "allow", said[dev].reason
        assert said[dev].reason.endswith(f"left the host on {dev}"), said[dev].reason
    assert leftovers(lab_id) == []
