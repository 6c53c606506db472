"""Containers reachable directly from a LAN, without a published port.

Before Docker 28, nothing stops a neighbour that routes the container subnet via the host (one
`ip route add 172.17.0.0/16 via HOST`) from opening connections to any port of any container:
FORWARD accepts them like a published port's. Docker 28 added raw-table drops for this. The
sources are computed exactly per interface, for a port the container does not publish.

Docker 28's gateway modes change what is intended: on a `routed` network a published port *is*
the container's own port opened to direct access (no DNAT), so that is no finding; on a
`nat-unprotected` network Docker deliberately filters no direct access and adds no raw-table
drop (lab: tests/fixtures/lab/docker28/gateway_modes-default).

A guest a native nft DNAT forwards to (a VM behind a bridge: analysis/forwards.py) is asked the
same way (subject `guest ADDR`): its forward is open the same way, whatever the DNAT meant to
open (lab: tests/lab/test_lab_nft_fix.py, host `native`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from nflens.analysis.context import AuditContext, Question
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import ORIGINAL, act, ct, forward, ip, state
from nflens.analysis.partition import listed, readable

ID = "direct-container-access"
SEVERITY = "medium"
TITLE = "Container reachable directly from outside, without a published port"


def _port(container) -> int:
    published = {b.container_port for b in container.ports}
    for port, proto in container.exposed:
        if proto == "tcp" and port not in published:
            return port
    return min(published) if published else 80


def _published(container, port: int) -> bool:
    return any(b.container_port == port and b.proto == "tcp" for b in container.ports)


def _endpoints(ctx: AuditContext) -> Iterator[tuple[str, object, int, str]]:
    """(container name, address, port asked, bridge) of each running container's address on
    a bridge network, within the context's scope."""
    for c in ctx.host.runtimes.containers:
        if not c.running:
            continue
        for ep in c.endpoints:
            net = ctx.host.runtimes.network(ep.network)
            if ep.ipv4 is None or net is None or not net.bridge:
                continue
            addr, port = ep.ipv4.ip, _port(c)
            if net.gateway_mode_ipv4 == "routed" and _published(c, port):
                continue  # routed mode: -p opens exactly this direct access
            if ctx.scope is not None and f"container {c.name.lstrip('/')} {addr}" not in ctx.scope:
                continue
            yield c.name.lstrip("/"), addr, port, net.bridge


def _guests(ctx: AuditContext) -> Iterator[tuple[object, int, str]]:
    """(address, port, bridge) of each guest a native nft DNAT forwards to (a VM behind a
    bridge, analysis/forwards.py), once per address: the DNAT opens one port of it, a
    neighbour that routes its subnet via the host reaches every port the same way as a
    container's (the forward path does not ask whether the packet was DNATed)."""
    seen = set()
    for p in ctx.forwarded:
        addr = p.container_addr()
        fwd = p.forward
        if addr is None or addr.version != 4 or fwd is None or not fwd.bridge or addr in seen:
            continue
        seen.add(addr)
        if ctx.scope is None or f"guest {addr}" in ctx.scope:
            yield addr, p.binding.container_port, fwd.bridge


def questions(ctx: AuditContext) -> list[Question]:
    """The reaches `detect` asks, one per container address (`audit --jobs` answers them in
    its workers)."""
    return [ctx.reach_question(4, [addr], port, "tcp") for _, addr, port, _ in _endpoints(ctx)
            ] + [ctx.reach_question(4, [addr], port, "tcp") for addr, port, _ in _guests(ctx)]


def _open(ctx: AuditContext, addr, port: int) -> dict:
    reach = ctx.reach(4, [addr], port, "tcp")
    return {r.iface: r.version_ranges.get(4, []) for r in reach if r.version_ranges.get(4)}


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for name, addr, port, bridge in _endpoints(ctx):
        open_ = _open(ctx, addr, port)
        if open_:
            out.append(_finding(ctx, name, addr, port, bridge, open_))
    for addr, port, bridge in _guests(ctx):
        open_ = _open(ctx, addr, port)
        if open_:
            out.append(_guest_finding(ctx, addr, port, bridge, open_))
    return out


def _guest_finding(ctx, addr, port, bridge, open_) -> Finding:
    where = "; ".join(f"{i}: {listed(readable({4: r}, ctx.analysis.never), 5)}"
                      for i, r in open_.items())
    explanation = (f"{addr} behind {bridge} is the target of a port forward (a DNAT in the "
                   f"host's nftables), and tcp/{port} of it is reachable at the network level "
                   f"straight from outside, at its own address, from: {where}. A neighbour "
                   f"only needs a route to {addr} via this host: the forward hook lets every "
                   "port of the guest through, not only the forwarded one.")
    subject = f"guest {addr}"
    return Finding(ID, SEVERITY, "Guest behind a port forward reachable directly from outside",
                   subject, explanation, [], _drop_direct(addr, bridge, ""), scope={subject})


def _finding(ctx, name, addr, port, bridge, open_) -> Finding:
    where = "; ".join(f"{i}: {listed(readable({4: r}, ctx.analysis.never), 5)}"
                      for i, r in open_.items())
    container = ctx.host.runtimes.container(name)
    net = ctx.host.runtimes.network(next(
        (ep.network for ep in container.endpoints if ep.ipv4 and ep.ipv4.ip == addr), "")
        ) if container is not None else None
    mode = net.gateway_mode_ipv4 if net is not None else "nat"
    published = container is not None and _published(container, port)
    how = ("published (-p), and reachable at the container's own address too" if published
           else "with no port published for it")
    explanation = (f"tcp/{port} of {name} ({addr}) is reachable at the network level straight "
                   f"from outside, {how} (nothing in the snapshot shows what listens in the "
                   f"container), from: {where}. A neighbour only needs a route to {addr} via "
                   "this host.")
    if mode == "nat-unprotected":
        explanation += (" Its network's gateway mode is nat-unprotected: Docker filters no "
                        "direct access to its containers, on any port.")
    raw_note = _raw_note(mode, container.runtime if container is not None else "docker")
    subject = f"container {name} {addr}" if container is None or container.runtime == "docker" \
        else f"{container.runtime} container {name} {addr}"
    return Finding(ID, SEVERITY, TITLE, subject, explanation, [],
                   _drop_direct(addr, bridge, raw_note), scope={subject})


def _drop_direct(addr, bridge: str, note: str) -> Fix:
    """Drop what comes to the address from elsewhere than its bridge and was not DNATed (the
    forwarded port's connections were)."""
    return Fix(rules=[forward("ip", ip(dst=ipaddress.ip_network(f"{addr}/32"), iface=bridge,
                                       not_iface=True),
                              ct(ORIGINAL, state("DNAT", negated=True)), act("drop"))],
               note=note,
               unplaced=f"drop packets to {addr} not coming from {bridge} unless DNATed "
                        "(ct status dnat), at prerouting or forward")


def _raw_note(mode: str, runtime: str) -> str:
    """What the runtime itself does against direct access (the fix's note)."""
    if runtime == "podman":
        return ("netavark writes no rule against packets routed straight to a container's "
                "address (none of its rules in this snapshot drops them)")
    return ("Docker 28 and later drop these in the raw table by itself" if mode == "nat"
            else f"Docker adds no raw-table drop on a {mode} network: set "
                 "com.docker.network.bridge.gateway_mode_ipv4=nat, or keep this rule")
