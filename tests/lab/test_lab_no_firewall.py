"""A host with no firewall and a down interface, on a real kernel (issue 29.7): namespaces
stand for the host, its LAN, its uplink (with a routed source beyond the uplink's subnet) and a
peer behind an interface set down. nflens' exposure must say what the kernel does for each
source, `no-firewall` must be reported, and its fix, typed into the host namespace as printed,
must do what its verification claimed: the LAN and the uplink's subnet still connect, the
routed source no longer does."""

from __future__ import annotations

import shlex
import shutil
import time
from pathlib import Path

import pytest

from nflens.analysis.audit import audit
from nflens.lab.netns import Lab, run_in
from nflens.lab.probes import handshake
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot

pytestmark = [pytest.mark.lab, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("busybox", "iptables", "nsenter")),
    reason="needs busybox, iptables and nsenter")]
PORT = 8000
FAR = "203.0.113.5"  # the uplink's client sends from this address, routed via 198.51.100.2


def _build(lab: Lab, www: Path) -> dict[str, str]:
    ns = {r: lab.add_netns(r) for r in ("host", "lan", "wan", "off")}
    for (peer, here, there) in (("lan", "10.99.0.1/24", "10.99.0.2/24"),
                                ("wan", "198.51.100.1/24", "198.51.100.2/24"),
                                ("off", "192.0.2.1/24", "192.0.2.2/24")):
        iface = {"lan": "eth0", "wan": "eth1", "off": "eth2"}[peer]
        lab.add_veth(ns["host"], iface, ns[peer], "eth0")
        lab.add_addr(ns["host"], iface, here)
        lab.add_addr(ns[peer], "eth0", there)
    lab.add_addr(ns["wan"], "eth0", f"{FAR}/32")
    lab.add_route(ns["host"], "203.0.113.0/24", "198.51.100.2")
    www.mkdir()
    (www / "index.html").write_text("nflens:host\n")
    lab.spawn(ns["host"], ["busybox", "httpd", "-f", "-p", str(PORT), "-h", str(www)])
    return ns


def _wan_from(ns: dict[str, str], src: str) -> None:
    """The uplink client's source address for the host: its own, or the routed one."""
    run_in(ns["wan"], ["ip", "route", "replace", "198.51.100.1/32", "dev", "eth0", "src", src])


def _kernel(ns: dict[str, str]) -> dict[str, bool]:
    out = {"10.99.0.2": handshake(ns["lan"], "10.99.0.1", PORT),
           "192.0.2.2": handshake(ns["off"], "192.0.2.1", PORT)}
    for src in ("198.51.100.2", FAR):
        _wan_from(ns, src)
        out[src] = handshake(ns["wan"], "198.51.100.1", PORT)
    return out


def _nflens(snap: Path) -> tuple[dict[str, bool], dict, list[dict]]:
    import ipaddress as ip

    result = audit(read_snapshot(snap))
    (e,) = [e for e in result["exposure"] if e["host_port"] == PORT]
    reach = {r["iface"]: r for r in e["reachable_from"]}
    where = {"10.99.0.2": "eth0", "192.0.2.2": "eth2", "198.51.100.2": "eth1", FAR: "eth1"}
    verdict = {src: any(ip.ip_address(src) in ip.ip_network(c)
                        for c in reach[iface]["sources"]) for src, iface in where.items()}
    return verdict, reach, result["findings"]


def _wait_listening(ns: dict[str, str]) -> None:
    for _ in range(50):
        if handshake(ns["lan"], "10.99.0.1", PORT):
            return
        time.sleep(0.1)
    raise AssertionError("busybox httpd did not start")


def _both(ns: dict[str, str], snap: Path) -> tuple[dict[str, bool], dict[str, bool], dict,
                                                   list[dict]]:
    """What the kernel does for each source, then what nflens says on a snapshot taken now."""
    kernel = _kernel(ns)
    collect(snap, netns=ns["host"])
    return (kernel, *_nflens(snap))


def test_no_firewall_and_a_down_interface_agree_with_the_kernel(tmp_path):
    with Lab() as lab:
        ns = _build(lab, tmp_path / "www")
        _wait_listening(ns)
        assert _kernel(ns)["192.0.2.2"]  # eth2 up: its peer connects (so down means something)
        run_in(ns["host"], ["ip", "link", "set", "eth2", "down"])
        kernel, verdict, reach, findings = _both(ns, tmp_path / "before")
        (nofw,) = [f for f in findings if f["id"] == "no-firewall"]
        for line in nofw["fix"].splitlines():
            if line.startswith(("iptables ", "ip6tables ")):
                run_in(ns["host"], shlex.split(line))
        fixed_kernel, fixed_verdict, _, fixed_findings = _both(ns, tmp_path / "after")
    assert kernel == {"10.99.0.2": True, "192.0.2.2": False, "198.51.100.2": True, FAR: True}
    assert verdict == kernel
    assert reach["eth2"].get("down") is True and reach["eth2"]["sources"] == []
    assert nofw["fix_verified"] is True
    assert fixed_kernel == {"10.99.0.2": True, "192.0.2.2": False, "198.51.100.2": True,
                            FAR: False}
    assert fixed_verdict == fixed_kernel
    assert "no-firewall" not in {f["id"] for f in fixed_findings}
