"""Containers reachable directly from a LAN, without a published port.

Before Docker 28, nothing stops a neighbour that routes the container subnet via the host (one
`ip route add 172.17.0.0/16 via HOST`) from opening connections to any port of any container:
FORWARD accepts them like a published port's. Docker 28 added raw-table drops for this. The
sources are computed exactly per interface, for a port the container does not publish."""

from __future__ import annotations

from collections.abc import Iterator

from nflens.analysis.context import AuditContext, Question
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Edit, Fix, iptables_table
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


def _endpoints(ctx: AuditContext) -> Iterator[tuple[str, object, int, str]]:
    """(container name, address, port asked, bridge) of each running container's address on
    a bridge network, within the context's scope."""
    for c in ctx.host.docker.containers:
        if not c.running:
            continue
        for ep in c.endpoints:
            net = ctx.host.docker.network(ep.network)
            if ep.ipv4 is None or net is None or not net.bridge:
                continue
            addr, port = ep.ipv4.ip, _port(c)
            if ctx.scope is not None and f"container {c.name.lstrip('/')} {addr}" not in ctx.scope:
                continue
            yield c.name.lstrip("/"), addr, port, net.bridge


def questions(ctx: AuditContext) -> list[Question]:
    """The reaches `detect` asks, one per container address (`audit --jobs` answers them in
    its workers)."""
    return [ctx.reach_question(4, [addr], port, "tcp") for _, addr, port, _ in _endpoints(ctx)]


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for name, addr, port, bridge in _endpoints(ctx):
        reach = ctx.reach(4, [addr], port, "tcp")
        open_ = {r.iface: r.version_ranges.get(4, []) for r in reach if r.version_ranges.get(4)}
        if open_:
            out.append(_finding(ctx, name, addr, port, bridge, open_))
    return out


def _finding(ctx, name, addr, port, bridge, open_) -> Finding:
    where = "; ".join(f"{i}: {listed(readable({4: r}, ctx.analysis.never), 5)}"
                      for i, r in open_.items())
    explanation = (f"tcp/{port} of {name} ({addr}) is reachable at the network level straight "
                   f"from outside, with no port published for it (nothing in the snapshot shows "
                   f"what listens in the container), from: {where}. A neighbour only needs a "
                   f"route to {addr} via this host.")
    table = iptables_table(ctx.host, "ip")
    if table is None or table.chain("DOCKER-USER") is None:
        fix = Fix(note=f"drop packets to {addr} not coming from {bridge} unless DNATed "
                       "(ct status dnat), at prerouting or forward")
    else:
        fix = Fix([Edit("ip", "filter", "DOCKER-USER", 1,
                        f"-d {addr}/32 ! -i {bridge} -m conntrack --ctdir ORIGINAL "
                        "! --ctstate DNAT -j DROP")],
                  note="Docker 28 and later drop these in the raw table by itself")
    subject = f"container {name} {addr}"
    return Finding(ID, SEVERITY, TITLE, subject, explanation, [], fix, scope={subject})


