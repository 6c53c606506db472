"""The user's terms -> what the kernel sees, on one host.

A policy speaks of containers (by name or label), networks, groups and the ports a user knows
(`-p 8080:80`: "8080" or "80"). Rules need bridge names, container addresses and the
(host port, container port) pair of each binding. This module is the only place that looks
these up, so the compiler works on concrete statements and every lookup failure is reported
once, in the user's terms ("container web publishes no port 81/tcp; published: 8080->80/tcp").

Containers that are not running are skipped with a warning, not an error: the same policy is
re-applied by `watch` and at boot while containers come and go. A container that does not exist
at all is an error (a typo must not leave a port open) unless the caller allows missing ones
(`--allow-missing`, which the boot unit passes). One exception: the published
ports of a container named by an inbound rule that exists but is stopped are kept, without its
address (it has none while stopped, and may get another one when it starts): `docker inspect`
still gives its networks and its port bindings (HostConfig.PortBindings), and the rule holds for
whatever address it starts with. Skipping it left the port open to everyone from its start until
the next apply (lab: seed 004's policy applied while tomcat was stopped, `docker start tomcat`,
WAN allowed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from nflens.errors import PolicyError
from nflens.ir.host import Container, Host, Network
from nflens.literal import names
from nflens.policy.schema import (
    ANY,
    LABEL_KEY,
    Dest,
    EgressSpec,
    Policy,
    PortRule,
    Selector,
    ToHostSpec,
    label_policy,
)

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Target:
    """One container on one bridge: where its traffic enters and leaves the host's view."""

    container: str
    bridge: str
    addrs: tuple[Net, ...]  # its /32 and /128; () for a stopped container: any address


@dataclass(frozen=True)
class InboundPort:
    """Statement: connections to this published port are allowed from `sources` only
    (None: from anywhere)."""

    label: str
    target: Target
    host_port: int
    container_port: int
    proto: str
    sources: tuple[Net, ...] | None


@dataclass(frozen=True)
class EgressRule:
    """Statement: new connections opened by `sources` on `bridge` are limited to `allow`
    (each: destinations or None for any, port, proto) plus DNS; replies always pass."""

    label: str
    bridge: str
    sources: tuple[Net, ...] | None  # None: the whole network
    default: str
    allow: tuple[tuple[tuple[Net, ...] | None, int | None, str | None], ...]
    dns: bool


@dataclass(frozen=True)
class ToHostRule:
    label: str
    bridge: str
    sources: tuple[Net, ...] | None
    default: str
    allow: tuple[tuple[int, str], ...]
    host_addrs: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()


@dataclass
class Resolved:
    inbound: list[InboundPort] = field(default_factory=list)
    closed_bridges: list[str] = field(default_factory=list)  # inbound default closed
    egress: list[EgressRule] = field(default_factory=list)
    to_host: list[ToHostRule] = field(default_factory=list)
    take_over: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    groups: dict[str, tuple[Net, ...]] = field(default_factory=dict)


class Resolver:
    def __init__(self, policy: Policy, host: Host, allow_missing: bool = False):
        self.policy = policy
        self.host = host
        self.allow_missing = allow_missing
        self.out = Resolved(take_over=policy.take_over)
        self.out.groups = {name: self.addresses((name,)) or () for name in policy.groups}

    # --- names -> addresses ------------------------------------------------------------------
    def addresses(self, names: tuple[str, ...],
                  seen: tuple[str, ...] = ()) -> tuple[Net, ...] | None:
        """CIDRs and group names -> networks; None when one of them is `any`."""
        out: list[Net] = []
        for name in names:
            if name == ANY:
                return None
            if name in self.policy.groups:
                if name in seen:
                    raise PolicyError(f"group {name!r} contains itself ({' -> '.join(seen)})")
                members = self.addresses(self.policy.groups[name], seen + (name,))
                if members is None:
                    return None
                out.extend(members)
            else:
                out.append(ipaddress.ip_network(name, strict=False))
        return tuple(dict.fromkeys(out))

    def running(self) -> list[Container]:
        return [c for c in self.host.docker.containers if c.running]

    def containers(self, sel: Selector) -> list[Container]:
        if sel.container:
            c = self.host.docker.container(sel.container)
            if c is None and not self.allow_missing:
                known = names(sorted(x.name.lstrip("/") for x in self.host.docker.containers))
                raise PolicyError(f"{sel.describe()}: no such container on this host (containers: "
                                  f"{known or 'none'}); --allow-missing skips it")
            if c is None or not c.running:
                self.out.warnings.append(f"{sel.describe()}: not running on this host; skipped")
                return []
            return [c]
        if sel.label:
            key, eq, value = sel.label.partition("=")
            found = [c for c in self.running() if any(
                k == key and (not eq or v == value) for k, v in c.labels)]
            if not found:
                self.out.warnings.append(f"label {sel.label}: no running container has it")
            return found
        assert sel.network is not None  # the schema: exactly one of container, label, network
        net = self.network(sel.network)
        return [c for c in self.running() if any(e.network == net.name for e in c.endpoints)]

    def network(self, ref: str) -> Network:
        net = self.host.docker.network(ref)
        if net is None:
            known = ", ".join(n.name for n in self.host.docker.networks) or "none"
            raise PolicyError(f"unknown Docker network {ref!r} (networks: {known})")
        if not net.bridge:
            raise PolicyError(f"network {ref!r} is not a bridge network (driver {net.driver})")
        return net

    def targets(self, c: Container) -> list[Target]:
        out = []
        for ep in c.endpoints:
            net = self.host.docker.network(ep.network)
            if net is None or not net.bridge:
                continue
            addrs = tuple(ipaddress.ip_network(a.ip) for a in (ep.ipv4, ep.ipv6) if a is not None)
            if addrs:
                out.append(Target(c.name.lstrip("/"), net.bridge, addrs))
        return out

    # --- statements ----------------------------------------------------------------------------
    def inbound(self, rule: PortRule, label: str) -> None:
        sources = self.addresses(rule.sources)
        stopped = self.host.docker.container(rule.container) if rule.container else None
        if stopped is not None and not stopped.running:
            self.stopped_inbound(rule, stopped, sources, label)
            return
        found = False
        for c in self.containers(rule):
            bindings = _bindings(c, rule.port, rule.proto)
            if not bindings:
                if rule.container:
                    raise PolicyError(f"{label}: container {rule.container} publishes no port "
                                      f"{rule.port}/{rule.proto} (published: {_published(c)})")
                continue
            found = True
            for target in self.targets(c):
                for hp, cp in bindings:
                    self.out.inbound.append(InboundPort(label, target, hp, cp, rule.proto, sources))
        if not found and rule.label:
            self.out.warnings.append(f"{label}: no container with label {rule.label} publishes "
                                     f"{rule.port}/{rule.proto}")

    def stopped_inbound(self, rule: PortRule, c: Container, sources: tuple[Net, ...] | None,
                        label: str) -> None:
        """A named container that is stopped: its bindings on each bridge it is attached to,
        with no address (see the module docstring)."""
        bindings = _bindings(c, rule.port, rule.proto)
        bridges = sorted({net.bridge for ep in c.endpoints
                          if (net := self.host.docker.network(ep.network)) and net.bridge})
        if not bindings or not bridges:
            self.out.warnings.append(f"{rule.describe()}: not running on this host and no "
                                     f"port {rule.port}/{rule.proto} bound on a bridge; skipped")
            return
        self.out.warnings.append(f"{rule.describe()}: not running; the rules of its port "
                                 f"{rule.port}/{rule.proto} hold for any address it starts with")
        name = c.name.lstrip("/")
        for bridge in bridges:
            for hp, cp in bindings:
                self.out.inbound.append(InboundPort(label, Target(name, bridge, ()), hp, cp,
                                                    rule.proto, sources))

    def scoped(self, sel: Selector) -> list[tuple[str, tuple[Net, ...] | None]]:
        """(bridge, sources) pairs a per-network/per-container statement applies to."""
        if sel.network:
            bridge = self.network(sel.network).bridge
            assert bridge  # network() refuses a network without a bridge
            return [(bridge, None)]
        return [(t.bridge, t.addrs) for c in self.containers(sel) for t in self.targets(c)]

    def egress(self, eg: EgressSpec, sel: Selector, label: str) -> None:
        allow = tuple((self.addresses(d.to), d.port, d.proto or (None if d.port is None else "tcp"))
                      for d in _dests(eg))
        for bridge, sources in self.scoped(sel):
            self.out.egress.append(EgressRule(label, bridge, sources, eg.default, allow, eg.dns))

    def to_host(self, th: ToHostSpec, sel: Selector, label: str) -> None:
        ports = th.ports()
        for bridge, sources in self.scoped(sel):
            iface = self.host.interface(bridge)
            addrs = tuple(a.ip for a in iface.addresses) if iface else ()
            self.out.to_host.append(ToHostRule(label, bridge, sources, th.default, ports, addrs))

    def run(self) -> Resolved:
        p = self.policy
        for i, rule in enumerate(p.inbound.ports):
            self.inbound(rule, f"inbound.ports[{i}] ({rule.describe()} "
                               f"port {rule.port}/{rule.proto})")
        if p.inbound.default == "closed":
            self.out.closed_bridges = sorted({n.bridge for n in self.host.docker.networks
                                              if n.bridge and n.driver == "bridge"})
        for i, eg in enumerate(p.egress):
            self.egress(eg, eg, f"egress[{i}] ({eg.describe()})")
        for i, th in enumerate(p.to_host):
            self.to_host(th, th, f"to_host[{i}] ({th.describe()})")
        self.labels()
        # first match wins inside a chain: a container's own statement must come before its
        # network's, so that it overrides it (stable sort keeps the file's order otherwise)
        self.out.egress.sort(key=lambda s: s.sources is None)
        self.out.to_host.sort(key=lambda s: s.sources is None)
        return self.out

    def labels(self) -> None:
        """Per-container policies carried by the `nflens.policy` label."""
        for c in self.running():
            text = dict(c.labels).get(LABEL_KEY)
            if not text:
                continue
            name = c.name.lstrip("/")
            cp = label_policy(name, text)
            sel = Selector(container=name)
            where = f"label of {name}"
            for rule in cp.inbound:
                pr = PortRule(container=name, port=rule.port, proto=rule.proto,
                              sources=rule.sources)
                self.inbound(pr, f"{where}: inbound port {rule.port}/{rule.proto}")
            if cp.egress is not None:
                self.egress(cp.egress, sel, f"{where}: egress")
            if cp.to_host is not None:
                self.to_host(cp.to_host, sel, f"{where}: to_host")


def _dests(eg: EgressSpec) -> tuple[Dest, ...]:
    return tuple(d if isinstance(d, Dest) else Dest(to=(d,)) for d in eg.allow)


def _bindings(c: Container, port: int, proto: str) -> list[tuple[int, int]]:
    """(host port, container port) of the bindings the user means: the host port when one
    matches (what they type in a browser), else the container port."""
    bound = [(b.host_port, b.container_port) for b in c.ports
             if b.proto == proto and b.host_port is not None]
    by_host = sorted({(h, cp) for h, cp in bound if h == port})
    if by_host:
        return by_host
    return sorted({(h, cp) for h, cp in bound if cp == port})


def _published(c: Container) -> str:
    items = sorted({f"{b.host_port}->{b.container_port}/{b.proto}" for b in c.ports
                    if b.host_port is not None})
    return ", ".join(items) or "none"


def resolve(policy: Policy, host: Host, allow_missing: bool = False) -> Resolved:
    """`allow_missing`: a container the policy names that does not exist is skipped with a
    warning (re-applied at boot or by `watch` while containers come and go), not an error."""
    return Resolver(policy, host, allow_missing).run()
