"""The standard lab topology: a docker host between a LAN client and a WAN client.

Same addressing as shared/examples/snapshot-example (made with this kind of lab):

    lan client  eth0 10.99.0.2/24   ── veth ──  eth0 10.99.0.1/24    host (dockerd)
    wan client  eth0 198.51.100.2/24 ── veth ── eth1 198.51.100.1/24

The clients route everything via the host, so a container's masqueraded egress reaches them and
their replies come back. Optional IPv6: 2001:db8:1::/64 on the LAN, 2001:db8:2::/64 on the WAN
(documentation prefixes), host ::1 and clients ::2. Each client runs busybox httpd on port 80
answering `nflens:lan` / `nflens:wan` (a "peer outside the host" for egress flows); the host can
run services of its own (`host_service`).

A scenario may replace the LAN or WAN plan (`Scenario.addressing`, e.g. seed 002's own networks:
host 10.254.10.252/24 on eth0, the NAS 10.254.10.105). A plan's `extra` addresses are more
source addresses of the same client (a second LAN subnet, e.g. 10.254.20.5/24); the host reaches
them through the client's first address, as through a router on that LAN, so the host's own
addresses stay the plan's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from nflens.lab.netns import Lab

LAN = {"host": "10.99.0.1/24", "client": "10.99.0.2/24", "host6": "2001:db8:1::1/64",
       "client6": "2001:db8:1::2/64"}
WAN = {"host": "198.51.100.1/24", "client": "198.51.100.2/24", "host6": "2001:db8:2::1/64",
       "client6": "2001:db8:2::2/64"}


@dataclass
class Topology:
    lab: Lab
    host: str
    clients: dict[str, str] = field(default_factory=dict)  # host iface -> client namespace
    client_addrs: dict[str, list[str]] = field(default_factory=dict)  # host iface -> addresses
    ipv6: bool = False
    peers: dict[str, str] = field(default_factory=dict)  # address -> namespace beyond a client

    def client_for(self, iface: str) -> str:
        try:
            return self.clients[iface]
        except KeyError:
            raise KeyError(f"no client namespace behind host interface {iface!r}") from None

    def serve_http(self, ns: str, port: int, token: str) -> None:
        """busybox httpd in `ns` answering `token`: a host service or a peer outside the host."""
        www = self.lab.add_dir(self.lab.state_dir / "www" / f"{ns}-{port}")
        (www / "index.html").write_text(token + "\n")
        self.lab.spawn(ns, ["busybox", "httpd", "-f", "-p", str(port), "-h", str(www)])

    def host_service(self, port: int = 8000) -> None:
        self.serve_http(self.host, port, "nflens:host")


def plans(addressing: dict[str, dict] | None = None) -> tuple[dict, dict]:
    """The LAN and WAN plans, a scenario's `addressing` overriding the standard ones per key."""
    over = addressing or {}
    return {**LAN, **over.get("lan", {})}, {**WAN, **over.get("wan", {})}


def build(lab: Lab, ipv6: bool = False, forward_first: bool = True,
          addressing: dict[str, dict] | None = None) -> Topology:
    """Create host, lan and wan namespaces and their links.

    `forward_first`: turn on ip_forward before dockerd starts. dockerd then leaves the FORWARD
    policy ACCEPT; when it has to turn forwarding on itself it sets FORWARD DROP (as on a fresh
    host), which some scenarios want.
    """
    host = lab.add_netns("host")
    topo = Topology(lab, host, ipv6=ipv6)
    lan, wan = plans(addressing)
    for iface, role, plan in (("eth0", "lan", lan), ("eth1", "wan", wan)):
        client = lab.add_netns(role)
        lab.add_veth(host, iface, client, "eth0")
        if ipv6:
            for ns in (host, client):
                lab.sysctl(ns, "net.ipv6.conf.all.accept_dad", "0")
        lab.add_addr(host, iface, plan["host"])
        lab.add_addr(client, "eth0", plan["client"])
        lab.add_route(client, "0.0.0.0/0", plan["host"].split("/")[0])
        addrs = [plan["client"].split("/")[0]]
        for extra in plan.get("extra", ()):
            lab.add_addr(client, "eth0", extra)
            net = str(ipaddress.ip_interface(extra).network)
            lab.add_route(host, net, addrs[0])
            addrs.append(extra.split("/")[0])
        if ipv6:
            lab.add_addr(host, iface, plan["host6"])
            lab.add_addr(client, "eth0", plan["client6"])
            lab.add_route(client, "::/0", plan["host6"].split("/")[0])
            addrs.append(plan["client6"].split("/")[0])
        topo.clients[iface] = client
        topo.client_addrs[iface] = addrs
        topo.serve_http(client, 80, f"nflens:{role}")
    if forward_first:
        lab.sysctl(host, "net.ipv4.ip_forward", "1")
        if ipv6:
            lab.sysctl(host, "net.ipv6.conf.all.forwarding", "1")
    return topo


def www_dir(lab: Lab) -> Path:
    return lab.state_dir / "www"
