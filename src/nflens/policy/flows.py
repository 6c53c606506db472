"""The flows a plan is verified with, derived from the host and the policy.

The simulator answers concrete flows, so "every statement holds and nothing else changed" is
checked on a set that covers each kind of traffic the policy's chains can see:
- inbound: every published port, from a neighbour on each external interface, from a sample
  address of every CIDR the policy names, and from an address outside all of them;
- egress: every container to the outside (443/tcp, DNS), to a neighbour on each external
  interface, and to a sample of each destination the policy allows;
- to_host: every container to its gateway on every host TCP socket and every port named;
- host services from outside (the INPUT chain gets a jump too).
A sample of a CIDR is its first usable address: the rules match prefixes, so one address per
prefix, plus one outside all of them, tells every rule's outcome apart. When the host has no
route back to that address (seed 002: the LAN 10.254.0.0/16 on a host that routes only
10.254.10.0/24 and 10.254.20.0/24), its reply could not come back and the probe would prove
nothing: the sample is taken in a routed part of the CIDR instead, preferably outside the
smaller CIDRs the policy names too (so "lan" and "nas" get different samples).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from nflens.ir.host import Host
from nflens.ir.packet import Endpoint, Flow
from nflens.policy.resolve import Net, Resolved

OUTSIDE = {4: ipaddress.ip_address("203.0.113.77"), 6: ipaddress.ip_address("2001:db8:ffff::77")}
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Probe:
    """A flow plus what the statements need to judge it."""

    kind: str  # inbound, egress, to_host, host
    flow: Flow
    container: str | None = None
    bridge: str | None = None
    caddr: IPAddr | None = None  # the container's address (source of egress / to_host)
    host_port: int | None = None
    src: IPAddr | None = None
    dst: IPAddr | None = None
    port: int | None = None
    proto: str = "tcp"


def sample(net: Net) -> IPAddr:
    if net.num_addresses > 2:
        return net.network_address + 1
    return net.network_address


def _routed(host: Host, addr: IPAddr) -> bool:
    return any(r.type == "unicast" and r.table in ("main", "local")
               and r.dst.version == addr.version and addr in r.dst for r in host.routes)


def host_sample(host: Host, net: Net, named: list[Net]) -> IPAddr:
    """`sample(net)`, or when the host cannot route a reply to it, the sample of the first
    routed subnet of `net` (route destinations inside it), those outside the smaller `named`
    CIDRs first."""
    s = sample(net)
    if _routed(host, s):
        return s
    parts = [r.dst for r in host.routes if r.type == "unicast" and r.table == "main"
             and r.dst.version == net.version and r.dst.prefixlen > 0 and r.dst != net
             and r.dst.subnet_of(net)]  # type: ignore[arg-type]
    smaller = [n for n in named if n.version == net.version and n != net
               and n.subnet_of(net)]  # type: ignore[arg-type]

    def inside_smaller(part: Net) -> bool:
        return any(part.overlaps(n) for n in smaller)

    parts.sort(key=lambda part: (inside_smaller(part), part))
    return sample(parts[0]) if parts else s


def _bridges(host: Host) -> set[str]:
    return {n.bridge for n in host.docker.networks if n.bridge}


def external(host: Host) -> list[tuple[str, IPAddr, Net]]:
    """(interface, host address, connected network) of interfaces that lead off the host."""
    bridges = _bridges(host)
    out = []
    for i in host.interfaces:
        if i.kind in ("loopback", "bridge") or i.name in bridges or i.master:
            continue
        for a in i.addresses:
            if a.scope == "global":
                out.append((i.name, a.ip, a.network))
    return out


def _neighbour(addr: IPAddr, net: Net) -> IPAddr | None:
    for cand in (net.network_address + 1, net.network_address + 2):
        if cand in net and cand != addr and cand != net.broadcast_address:
            return cand
    return None


def has_default_route(host: Host, version: int) -> bool:
    """Without one, a sample "outside" address could not even get an answer back: it would
    prove nothing about the policy."""
    return any(r.dst.prefixlen == 0 and r.dst.version == version and r.type == "unicast"
               for r in host.routes)


def sources(host: Host, res: Resolved) -> list[tuple[str, IPAddr, IPAddr]]:
    """(interface, source address, host address) triples for inbound and host-service flows."""
    ext = external(host)
    cidrs: list[Net] = [n for nets in res.groups.values() for n in nets]
    cidrs += [n for ip in res.inbound for n in (ip.sources or ())]
    out: list[tuple[str, IPAddr, IPAddr]] = []
    for iface, addr, net in ext:
        nb = _neighbour(addr, net)
        if nb is not None:
            out.append((iface, nb, addr))
    for cidr in dict.fromkeys(cidrs):
        s = host_sample(host, cidr, cidrs)
        here = [(i, a) for i, a, n in ext if s in n] or [(i, a) for i, a, _ in ext
                                                           if a.version == s.version][:1]
        out += [(i, s, a) for i, a in here if a.version == s.version]
    for version, s in OUTSIDE.items():
        if has_default_route(host, version):
            out += [(i, s, a) for i, a, _ in ext if a.version == version][:1]
    return list(dict.fromkeys(x for x in out if x[1] != x[2]))


def inbound(host: Host, res: Resolved) -> list[Probe]:
    out = []
    srcs = sources(host, res)
    for c in host.docker.containers:
        if not c.running:
            continue
        name = c.name.lstrip("/")
        for b in {(b.host_port, b.proto, b.host_ip) for b in c.ports if b.host_port}:
            hp, proto, hip = b
            for iface, src, haddr in srcs:
                if hip not in ("", "0.0.0.0", "::") and str(haddr) != hip:
                    continue
                if hip == "0.0.0.0" and haddr.version == 6:
                    continue
                flow = Flow(f"inbound {iface}:{src} -> {name} {haddr}:{hp}/{proto}",
                            Endpoint(iface=iface, src=src), haddr, hp, proto)
                out.append(Probe("inbound", flow, name, host_port=hp, src=src, dst=haddr,
                                 port=hp, proto=proto))
    return out


def direct(host: Host, res: Resolved) -> list[Probe]:
    """A neighbour connecting straight to a container's address (routed, no DNAT): what an
    inbound default of `closed` must stop, and what Docker before 28 let through."""
    out = []
    neighbours = [(i, nb) for i, a, n in external(host) if (nb := _neighbour(a, n)) is not None
                  and a.version == 4]
    for name, net, ep in _attachments(host):
        c = host.docker.container(name)
        if c is None:  # not reached: _attachments names this host's own containers
            continue
        for port, proto in sorted({(b.container_port, b.proto) for b in c.ports}):
            for iface, nb in neighbours:
                flow = Flow(f"direct {iface}:{nb} -> {name} {ep.ipv4.ip}:{port}/{proto}",
                            Endpoint(iface=iface, src=nb), ep.ipv4.ip, port, proto)
                out.append(Probe("direct", flow, name, net.bridge, ep.ipv4.ip, src=nb,
                                 dst=ep.ipv4.ip, port=port, proto=proto))
    return out


# Docker 28 and later: `-t raw -A PREROUTING -d <container address> ! -i <bridge> -j DROP` for
# every container on a bridge in the default (nat) gateway mode (moby libnetwork, bridge driver
# `setupNonInternalNetworkRules` / filterDirectAccess): a packet for a container's own address
# that did not come in over its bridge is dropped before conntrack, whatever the filter table
# says. Docker 20.10 and 26 have no such rule (only `--allow-direct-routing` or gateway mode
# `routed` remove it on 28).
_DIRECT_DROP = re.compile(r"-A PREROUTING -d (?P<addr>[0-9a-fA-F.:]+)/(?:32|128) "
                          r"! -i (?P<bridge>\S+) -j DROP$")


def direct_refused(host: Host) -> set[tuple[str, str]]:
    """(container address, bridge) pairs whose direct access Docker itself refuses in the raw
    table: no policy can open them, so a statement allowing a source means "deny" there."""
    out = set()
    for t in host.ruleset.tables:
        if t.name != "raw" or t.family not in ("ip", "ip6") or not t.origin.startswith("iptables"):
            continue
        for c in t.chains:
            if c.name == "PREROUTING":
                for r in c.rules:
                    m = _DIRECT_DROP.search(r.text)
                    if m:
                        out.add((str(ipaddress.ip_address(m["addr"])), m["bridge"]))
    return out


def _attachments(host: Host):
    nets = {n.name: n for n in host.docker.networks}
    for c in host.docker.containers:
        if not c.running:
            continue
        for ep in c.endpoints:
            net = nets.get(ep.network)
            if net is None or not net.bridge or ep.ipv4 is None:
                continue
            yield c.name.lstrip("/"), net, ep


def egress(host: Host, res: Resolved) -> list[Probe]:
    neighbours = [nb for _, a, n in external(host)
                  if (nb := _neighbour(a, n)) is not None and a.version == 4]
    # "anywhere" is an address off the host's networks when a default route reaches it, else
    # the neighbours: an unroutable sample could not tell allow from deny
    anywhere = [OUTSIDE[4]] if has_default_route(host, 4) else neighbours
    dests: list[tuple[IPAddr, int, str]] = [(a, 443, "tcp") for a in anywhere[:1]]
    dests += [(a, 53, "udp") for a in anywhere[:1]] + [(nb, 80, "tcp") for nb in neighbours]
    for eg in res.egress:
        for nets, port, proto in eg.allow:
            samples = [sample(n) for n in nets if n.version == 4] if nets else anywhere[:1]
            dests += [(s, port or 443, proto or "tcp") for s in samples]
    dests = list(dict.fromkeys(dests))
    out = []
    for name, net, ep in _attachments(host):
        for dst, port, proto in dests:
            if dst in ep.ipv4.network:
                continue
            flow = Flow(f"egress {name} -> {dst}:{port}/{proto}", Endpoint(container=name),
                        dst, port, proto)
            out.append(Probe("egress", flow, name, net.bridge, ep.ipv4.ip, dst=dst, port=port,
                             proto=proto))
    return out


def to_host(host: Host, res: Resolved) -> list[Probe]:
    ports = {(s.port, s.proto) for s in host.sockets if s.proto == "tcp"
             and s.process not in ("docker-proxy", "dockerd")
             and not str(s.addr).startswith("127.")}
    ports |= {p for th in res.to_host for p in th.allow}
    out = []
    for name, net, ep in _attachments(host):
        gw = ep.gateway4 or (net.gateways[0] if net.gateways else None)
        if gw is None or gw.version != 4:
            continue
        for port, proto in sorted(ports):
            flow = Flow(f"to_host {name} -> {gw}:{port}/{proto}", Endpoint(container=name), gw,
                        port, proto)
            out.append(Probe("to_host", flow, name, net.bridge, ep.ipv4.ip, dst=gw, port=port,
                             proto=proto))
    return out


def host_services(host: Host, res: Resolved) -> list[Probe]:
    ports = sorted({(s.port, s.proto) for s in host.sockets if s.proto == "tcp"
                    and s.process not in ("docker-proxy", "dockerd")})
    out = []
    for iface, src, haddr in sources(host, res):
        for port, proto in ports:
            flow = Flow(f"host {iface}:{src} -> {haddr}:{port}/{proto}",
                        Endpoint(iface=iface, src=src), haddr, port, proto)
            out.append(Probe("host", flow, src=src, dst=haddr, port=port, proto=proto))
    return out


def probes(host: Host, res: Resolved) -> list[Probe]:
    """Every probe once (a port bound on 0.0.0.0 and :: gives the same IPv4 flows)."""
    every = (inbound(host, res) + direct(host, res) + egress(host, res) + to_host(host, res)
             + host_services(host, res))
    return list({p.flow.name: p for p in every}.values())
