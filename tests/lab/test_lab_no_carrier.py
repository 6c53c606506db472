"""A route through a device that is up without carrier, on a real kernel (issue 25): a veth
whose peer is down shows NO-CARRIER in `ip -j link`; with ignore_routes_with_linkdown=0 the
route (flagged linkdown) is still chosen and a connection through it times out. nflens's own
collector snapshots the namespace and check must say deny, naming the carrier.

With net.ipv4.conf.all.ignore_routes_with_linkdown=1 the kernel skips the linkdown route
(fib_trie.c fib_lookup_good_nhc) and takes the next shorter prefix, here through the other
uplink: the connection reaches a server there, and nflens must route it the same way."""

from __future__ import annotations

import ipaddress
import json
import tempfile
import time
from pathlib import Path

import pytest

from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.lab import probes
from nflens.lab.netns import Lab, leftovers, run_in
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot

pytestmark = pytest.mark.lab


def _said(host: str, tmp: Path) -> FlowResult:
    """nflens's answer for the host's connection to 10.5.0.2:80, from its own snapshot."""
    snap = tmp / "snap"
    snap.mkdir()
    collect(snap, netns=host)
    return Simulator(read_snapshot(snap)).run(
        Flow("host-peer", Endpoint(host=True), ipaddress.ip_address("10.5.0.2"), 80))


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
        said = _said(host, Path(tmp))
        lab_id = lab.id
    assert "NO-CARRIER" in link
    assert kernel.outcome == "deny" and "timeout" in kernel.detail
    assert said.verdict == "deny" and "no carrier" in said.reason
    assert leftovers(lab_id) == []


def _wait_linkdown(ns: str, lab: Lab) -> list[str]:
    """The flags of the connected route through eth1 once linkwatch has delivered the carrier
    loss (it batches such events for up to a second, so a route dumped at once has none)."""
    flags: list[str] = []
    for _ in range(30):
        dump = json.loads(run_in(ns, ["ip", "-j", "route", "show", "dev", "eth1"],
                                 runner=lab.runner).stdout)
        flags = next((r.get("flags", []) for r in dump if r["dst"] == "10.5.0.0/24"), [])
        if "linkdown" in flags:
            break
        time.sleep(0.1)
    return flags


@pytest.mark.timeout(60)
def test_ignore_routes_with_linkdown_skips_the_route_for_a_shorter_prefix():
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-linkdown-") as tmp:
        host, peer, up = lab.add_netns("host"), lab.add_netns("peer"), lab.add_netns("up")
        lab.add_veth(host, "eth1", peer, "eth0")
        lab.add_veth(host, "eth0", up, "eth0")
        for ns, dev, cidr in ((host, "eth1", "10.5.0.1/24"), (peer, "eth0", "10.5.0.2/24"),
                              (host, "eth0", "10.6.0.1/24"), (up, "eth0", "10.6.0.2/24"),
                              (up, "lo", "10.5.0.2/32")):
            lab.add_addr(ns, dev, cidr)
        lab.add_route(host, "10.5.0.0/16", "10.6.0.2")
        www = lab.add_dir(lab.state_dir / "www")
        (www / "index.html").write_text("nflens:up\n")
        lab.spawn(up, ["busybox", "httpd", "-f", "-p", "80", "-h", str(www)])
        lab.sysctl(host, "net.ipv4.conf.all.ignore_routes_with_linkdown", "1")
        run_in(peer, ["ip", "link", "set", "eth0", "down"], runner=lab.runner)
        flags = _wait_linkdown(host, lab)
        got = run_in(host, ["ip", "route", "get", "10.5.0.2"], runner=lab.runner).stdout
        kernel = probes.from_netns(host, "10.5.0.2", 80, runner=lab.runner)
        said = _said(host, Path(tmp))
        lab_id = lab.id
    assert "linkdown" in flags and "via 10.6.0.2 dev eth0" in got
    assert kernel.outcome == "allow" and kernel.token == "nflens:up", kernel.detail
    assert said.verdict == "allow", said.reason
    assert any("via 10.6.0.2 dev eth0" in str(step) for step in said.steps), said.steps
    assert leftovers(lab_id) == []
