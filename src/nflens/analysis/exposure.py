"""Exposure: who can open a connection to each published port and each host socket.

For every ingress interface (the host's own, not Docker's bridges and veths) and every address
of the host the service answers on, the source space of the family is partitioned exactly
(partition.py) and each part labelled with its verdict and the rule that admitted it. The
union over the host's addresses is what an admin means by "reachable from": a source that can
reach the port on any of the host's addresses can reach it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from nflens.analysis.partition import Cell, RuleLookup, cidrs_of, host_points, readable, refine
from nflens.ir.host import Container, Host, PortBinding, Socket
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.journey import martian_source
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.kernel.trace import EndpointStep, PolicyStep, RuleStep

FAMILY_ANY = {4: ("", "0.0.0.0"), 6: ("", "::")}


@dataclass
class Reach:
    """One ingress interface: the allowed sources, and which rule admitted which part."""

    iface: str
    version_ranges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    admitted_by: dict[str, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    uncertain: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    uncertain_because: list[str] = field(default_factory=list)
    via_proxy: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    diverted_by: dict[str, dict] = field(default_factory=dict)  # nat rules that skipped DNAT

    never: dict[int, list[int]] = field(default_factory=dict)  # no source can be these
    down: bool = False  # the interface is administratively down: nothing arrives on it

    def absorb(self, other: Reach) -> None:
        """Take in the other family's answers (a dual-stack socket's IPv4 half): its allowed
        sources, what admitted them, its uncertain sources and why, and those through the
        proxy. The uncertain ones were once left out, so an IPv4 source that only a `-m set`
        rule decides showed as no source at all, with no uncertain block (issue 25)."""
        self.version_ranges.update(other.version_ranges)
        for rule, parts in other.admitted_by.items():
            self.admitted_by.setdefault(rule, {}).update(parts)
        self.uncertain.update(other.uncertain)
        self.uncertain_because += [w for w in other.uncertain_because
                                   if w not in self.uncertain_because]
        self.via_proxy.update(other.via_proxy)
        self.diverted_by.update(other.diverted_by)

    def sources(self) -> list[str]:
        out = []
        for v in (4, 6):
            out += cidrs_of(v, self.version_ranges.get(v, []))
        return out

    def readable(self) -> list[str]:
        return readable(self.version_ranges, self.never)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"iface": self.iface, "sources": self.sources(),
                               "readable": self.readable()}
        out["admitted_by"] = [
            {"rule": rule, "sources": [c for v in (4, 6) for c in cidrs_of(v, parts.get(v, []))]}
            for rule, parts in self.admitted_by.items()]
        if self.down:
            out["down"] = True
        unsure = [c for v in (4, 6) for c in cidrs_of(v, self.uncertain.get(v, []))]
        if unsure:
            out["uncertain"] = {"sources": unsure,
                                "readable": readable(self.uncertain, self.never),
                                "because": self.uncertain_because}
        return out


@dataclass
class Exposure:
    proto: str
    host_addr: str
    host_port: int
    target: dict[str, Any]
    reach: list[Reach]
    cells: int = 0  # simulations it took

    def to_json(self) -> dict[str, Any]:
        return {"proto": self.proto, "host_addr": self.host_addr, "host_port": self.host_port,
                "target": self.target, "reachable_from": [r.to_json() for r in self.reach]}


def ingress_interfaces(host: Host) -> list[str]:
    """Interfaces packets from elsewhere arrive on: not lo, not a bridge, not a bridge port
    (a container's veth). A veth with no master is a link to another namespace (a VM or a
    lab's LAN) and counts."""
    bridges = {n.bridge for n in host.runtimes.networks if n.bridge}
    return [i.name for i in host.interfaces
            if i.name != "lo" and i.kind != "bridge" and not i.master and i.name not in bridges]


def host_addresses(host: Host, ifaces: list[str], version: int) -> list:
    out = []
    for name in ifaces:
        iface = host.interface(name)
        for a in iface.addresses if iface else ():
            if a.ip.version == version and a.scope != "link" and not a.ip.is_loopback:
                out.append(a.ip)
    return out


NOT_FILTERING = ("nat", "mangle", "raw", "security")


def admitting_rule(result: FlowResult) -> str:
    """The accept of the filter decision that let the first packet through the forward or
    input hook: the last one on the path, not counting the tables that do not filter — nat
    INPUT (priority 100) comes after filter INPUT, and its policy ACCEPT was named as what
    admitted a host service (issue 15.10). Only when no filtering table decided at all is
    one of those named."""
    found = fallback = None
    for step in result.steps:
        if step.direction != "original" or step.phase not in ("forward", "input"):
            continue
        if getattr(step, "table", "") == "nat":
            continue  # nat INPUT/POSTROUTING only bind NAT; their ACCEPT admits nothing
        if isinstance(step, RuleStep) and step.matched is True and step.action == "accept":
            what = f"{step.file}:{step.line} {step.rule}" if step.file else step.rule
        elif isinstance(step, PolicyStep) and step.policy == "accept":
            what = f"policy ACCEPT of {step.table} {step.chain}"
        else:
            continue
        if step.table in NOT_FILTERING:
            fallback = what
        else:
            found = what
    return found or fallback or "no filtering rule on the path"


class ExposureAnalysis:
    """Exposure of one host; one simulator and one rule lookup shared by every question."""

    def __init__(self, host: Host, sim: Simulator | None = None):
        self.host = host
        self.sim = sim or Simulator(host)
        self.lookup = RuleLookup(host.ruleset, host.ipsets)
        self.ifaces = ingress_interfaces(host)
        # A device without IFF_UP receives nothing: a driver stops its receive path when the
        # device is set down (ndo_stop), and a veth's peer hands it nothing
        # (net/core/dev.c is_skb_forwardable: `if (!(dev->flags & IFF_UP)) return false`).
        # ifb0, present wherever the ifb module is loaded, is such an interface.
        self._down = {i.name for i in host.interfaces if not i.up}
        self._points = {v: host_points(host, v) for v in (4, 6)}
        self._bridges = {i.name for i in host.interfaces if i.kind == "bridge"}
        self.never = never_sources(host)
        self._pre: dict[tuple, str | None] = {}
        self._socket_reach: dict[tuple, list[Reach]] = {}
        self._policy_routing = any(r.selective for r in host.policy_rules)
        if not self._policy_routing:
            for v in (4, 6):
                self._points[v] = self._without_points_inside_bridges(v, self._points[v])

    def _without_points_inside_bridges(self, version: int, points: set[int]) -> set[int]:
        """Split points strictly inside a bridge's connected subnet (its gateway address,
        its network address) only separate sources that the bridge lemma settles alike."""
        inside = []
        for r in self.host.routes:
            if r.dev in self._bridges and r.dst.version == version and r.type == "unicast" \
                    and r.gateway is None and r.dst.prefixlen > 0:
                inside.append((int(r.dst.network_address), int(r.dst.broadcast_address)))
        return {p for p in points if not any(lo < p <= hi for lo, hi in inside)}

    def reach(self, version: int, dsts: list, port: int, proto: str) -> list[Reach]:
        out = []
        for iface in self.ifaces:
            r = Reach(iface, never=self.never, down=iface in self._down)
            if r.down:  # no source at all: listed, so the table says why
                out.append(r)
                continue
            for dst in dsts:
                for cell in self._cells(version, iface, dst, port, proto):
                    self._record(r, cell)
            out.append(r)
        return out

    def _cells(self, version: int, iface: str, dst, port: int, proto: str,
               space: tuple[int, int] | None = None) -> list[Cell]:
        """The exact partition of the sources (or of `space`, a part of them)."""
        name = f"exposure {iface}->{dst}:{port}/{proto}"

        def simulate(src):
            return self.sim.run(Flow(name, Endpoint(iface=iface, src=src), dst, port, proto))

        return refine(version, simulate, self.lookup, self._points[version], space=space,
                      settled=lambda lo, hi, res: self._behind_bridge(version, iface, lo, res),
                      known=lambda lo, hi: self._denied_before_rules(version, iface, lo, name))

    def _denied_before_rules(self, version: int, iface: str, lo: int, name: str):
        """Lemma: some sources are refused whatever the rules and the port say, so one answer
        serves every exposure question of the interface. A martian source is dropped by the
        routing decision (a rule can drop it earlier, never let it pass); a source the host
        has no route back to gets no answer. A source routed into a bridge other than `iface`
        is denied too (the lemma of `_behind_bridge`, which needs no simulation to hold: the
        answer's destination is the client's address, conntrack restores it whatever NAT did,
        and its route is the cell's). These depend only on the source, and the cell lies
        within one class of each (special classes, host addresses and route prefixes are split
        points). On a host with ten networks this spares 44 of the ~60 simulations of a
        published port."""
        if self._policy_routing:
            return None
        key = (version, iface, lo)
        if key not in self._pre:
            src = ipaddress.IPv4Address(lo) if version == 4 else ipaddress.IPv6Address(lo)
            why = martian_source(self.sim.model, src, iface)
            if why is None:
                back = self.sim.model.route(src)
                if back.type not in ("unicast", "local"):
                    why = f"no route back to {src} ({back.type})"
                elif back.type == "unicast" and back.oif in self._bridges and back.oif != iface:
                    why = f"the answer to {src} is routed into {back.oif}, not back out of {iface}"
            self._pre[key] = why
        why = self._pre[key]
        if why is None:
            return None
        return FlowResult(name, "deny", None, f"first packet or reply: {why}", None, None, [])

    def destinations(self, binding: PortBinding, version: int) -> list:
        """The host's addresses a published port answers on."""
        if binding.host_ip in FAMILY_ANY[version]:
            return host_addresses(self.host, self.ifaces, version)
        return [ipaddress.ip_address(binding.host_ip)]

    def _behind_bridge(self, version: int, iface: str, lo: int, result: FlowResult) -> bool:
        """Lemma: a source whose route points into a bridge other than the interface it came
        in on is denied, whoever holds the address. The answer is routed into that bridge:
        to a container that did not ask (dropped there) or to nobody (ARP fails) — never back
        out of `iface` to the client. Route prefixes and policy-rule selectors are split
        points, so one lookup holds for the whole cell. Spares one simulation per container
        address in every exposure question."""
        if result.verdict != "deny" or self._policy_routing:
            return False
        route = self.sim.model.route(ipaddress.ip_address(lo) if version == 4 else
                                     ipaddress.IPv6Address(lo))
        return route.type == "unicast" and route.oif in self._bridges and route.oif != iface

    @staticmethod
    def _record(reach: Reach, cell: Cell) -> None:
        res = cell.result
        span = (cell.lo, cell.hi)
        if res.verdict == "allow":
            reach.version_ranges.setdefault(cell.version, []).append(span)
            by = reach.admitted_by.setdefault(admitting_rule(res), {})
            by.setdefault(cell.version, []).append(span)
            if _through_proxy(res):
                reach.via_proxy.setdefault(cell.version, []).append(span)
                for step in _nat_diversions(res):
                    reach.diverted_by[f"{step.file}:{step.line}"] = {
                        "file": step.file, "line": step.line, "text": step.rule}
        elif res.verdict == "uncertain":
            reach.uncertain.setdefault(cell.version, []).append(span)
            for why in res.uncertain_because:
                if why not in reach.uncertain_because:
                    reach.uncertain_because.append(why)

    # --- the questions ------------------------------------------------------------------------
    def published(self, container: Container, binding: PortBinding) -> Exposure | None:
        if binding.host_port is None:  # not published on the host: nothing reaches it
            return None
        version = 6 if ":" in binding.host_ip else 4
        dsts = self.destinations(binding, version)
        target = {"container": container.name.lstrip("/"), "addr": container_addr(container,
                                                                                   version),
                  "port": binding.container_port}
        reach = self.reach(version, dsts, binding.host_port, binding.proto)
        return Exposure(binding.proto, binding.host_ip or "0.0.0.0", binding.host_port,
                        target, reach)

    def socket(self, sock: Socket) -> Exposure:
        """Who reaches the listening socket `sock`. Sockets alike but for their process (one
        bind per SO_REUSEPORT worker, or 50,000 copies of a line in a hostile ss.txt, issue
        29.13) are asked once: the reach depends on proto, address, port and dual-stack only."""
        key = (sock.proto, sock.addr, sock.port, sock.dual_stack)
        if key not in self._socket_reach:
            self._socket_reach[key] = self._socket_reach_of(sock)
        return Exposure(sock.proto, str(sock.addr), sock.port,
                        {"process": sock.process or "unknown"}, self._socket_reach[key])

    def _socket_reach_of(self, sock: Socket) -> list[Reach]:
        version = sock.addr.version
        if sock.addr.is_unspecified:
            dsts = host_addresses(self.host, self.ifaces, version)
            if sock.dual_stack:
                v4 = host_addresses(self.host, self.ifaces, 4)
                reach4 = self.reach(4, v4, sock.port, sock.proto)
            else:
                reach4 = []
        else:
            dsts, reach4 = [sock.addr], []
        reach = self.reach(version, dsts, sock.port, sock.proto)
        for r4 in reach4:  # a dual-stack socket: one entry per interface with both families
            for r in reach:
                if r.iface == r4.iface:
                    r.absorb(r4)
        return reach

    def egress(self, container: Container, version: int, port: int, proto: str
               ) -> list[tuple[int, int]]:
        """The destinations a container can open connections to on one service, exactly
        (the destination space refined like the source space of `reach`)."""
        return self.egress_answer(container, version, port, proto)[0]

    def egress_answer(self, container: Container, version: int, port: int, proto: str
                      ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[str]]:
        """`egress`, with the destinations whose verdict is uncertain and why (a `-m set`
        rule without ipset-save.txt): those were once dropped silently, as if denied."""
        name = container.name.lstrip("/")
        flow_name = f"egress {name}:{port}/{proto}"

        def simulate(dst):
            return self.sim.run(Flow(flow_name, Endpoint(container=name), dst, port, proto))

        cells = refine(version, simulate, self.lookup, self._points[version])
        because: list[str] = []
        for c in cells:
            if c.result.verdict == "uncertain":
                because += [w for w in c.result.uncertain_because if w not in because]
        return ([(c.lo, c.hi) for c in cells if c.result.verdict == "allow"],
                [(c.lo, c.hi) for c in cells if c.result.verdict == "uncertain"], because)


def container_addr(container: Container, version: int) -> str | None:
    for ep in container.endpoints:
        addr = ep.ipv4 if version == 4 else ep.ipv6
        if addr is not None:
            return str(addr.ip)
    return None


# Processes whose listening sockets are a runtime's published ports, not host services:
# docker-proxy, and rootful Podman's conmon, which holds each published port's socket only to
# reserve it (podman binds the ports and hands them to conmon; netavark's DNAT takes the
# connections first: the lab fixtures tests/fixtures/podman show conmon on 8080/8081 there)
PORT_HOLDERS = ("docker-proxy", "conmon")


def _service_socket(sock: Socket) -> bool:
    """Host services: not a runtime's port holder (its port is a published one), not
    loopback-only."""
    if sock.process in PORT_HOLDERS or sock.addr.is_loopback:
        return False
    return sock.proto in ("tcp", "udp")


def _through_proxy(result: FlowResult) -> bool:
    return any(isinstance(s, EndpointStep) and s.direction == "original"
               and "docker-proxy" in s.endpoint for s in result.steps)


def _nat_diversions(result: FlowResult) -> list[RuleStep]:
    """User rules of the nat table that ended the walk before Docker's DNAT (RETURN/ACCEPT)."""
    return [s for s in result.steps if isinstance(s, RuleStep) and s.direction == "original"
            and s.table == "nat" and s.matched is True and s.action in ("return", "accept")
            and not s.chain.startswith("DOCKER") or
            (isinstance(s, RuleStep) and s.table == "nat" and s.matched is True
             and s.direction == "original" and s.chain == "PREROUTING"
             and s.action in ("return", "accept"))]


def never_sources(host: Host) -> dict[int, list[int]]:
    """Addresses no packet from outside may carry as source: this host's own and the
    broadcast addresses of its subnets (martians, dropped before any rule)."""
    out: dict[int, list[int]] = {4: [], 6: []}
    for i in host.interfaces:
        for a in i.addresses:
            out[a.ip.version].append(int(a.ip))
            if a.ip.version == 4 and a.network.prefixlen < 31:
                out[4] += [int(a.network.network_address), int(a.network.broadcast_address)]
    return out
