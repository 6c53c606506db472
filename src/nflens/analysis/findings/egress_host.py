"""Egress blocked, except to the host itself (seed 003's CTF server).

Blocking container egress in DOCKER-USER (FORWARD) does nothing to connections a container
opens to the host's own addresses: those go to INPUT. A compromised container can then still
reach the host's services (sshd, a database on 0.0.0.0, the Docker API if exposed, other
containers' published ports through docker-proxy). Reported when, from a network's container,
every connection to the outside tried is denied but one to a host service is not."""

from __future__ import annotations

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import act, ct, host_input, ip, state
from nflens.analysis.neighbours import neighbour
from nflens.ir.packet import Endpoint, Flow

ID = "egress-misses-host"
SEVERITY = "medium"
TITLE = "Container egress is blocked, but not towards the host itself"
PROBE_PORTS = (80, 443)


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for net in ctx.host.runtimes.networks:
        if not net.bridge or (ctx.scope is not None and f"network {net.name}" not in ctx.scope):
            continue
        member = next((c for c in ctx.host.runtimes.containers if c.running and any(
            ep.network in (net.name, net.id) and ep.ipv4 for ep in c.endpoints)), None)
        if member is None:
            continue
        name = member.name.lstrip("/")
        outside = _outside_flows(ctx, name)
        if not outside or any(ctx.sim.run(f).verdict != "deny" for f in outside):
            continue  # egress is not blocked: nothing was meant to be closed
        open_ = [f for f in _host_flows(ctx, name, net) if ctx.sim.run(f).verdict == "allow"]
        if open_:
            out.append(_finding(ctx, net, name, outside, open_))
    return out


def _outside_flows(ctx: AuditContext, name: str) -> list[Flow]:
    flows = []
    for iface in ctx.analysis.ifaces:
        pair = neighbour(ctx.host, iface, 4)
        if pair:
            flows += [Flow(f"{name}->{pair[0]}:{port}", Endpoint(container=name), pair[0], port)
                      for port in PROBE_PORTS]
    return flows


def _host_flows(ctx: AuditContext, name: str, net) -> list[Flow]:
    targets = {a.ip for i in ctx.host.interfaces for a in i.addresses
               if a.ip.version == 4 and not a.ip.is_loopback}
    ports = sorted({(s.port, s.proto) for s in ctx.host.sockets
                    if s.proto == "tcp" and not s.addr.is_loopback
                    and s.process not in ("docker-proxy", "dockerd")}) or [(22, "tcp")]
    return [Flow(f"{name}->{t}:{port}", Endpoint(container=name), t, port, proto)
            for t in sorted(targets) for port, proto in ports]


def _finding(ctx, net, name, outside, open_) -> Finding:
    shown = ", ".join(f"{f.dst}:{f.dport}/{f.proto}" for f in open_[:6])
    explanation = (f"From {name} (network {net.name}) connections to the outside are denied "
                   f"(tried {len(outside)}), but these reach the host itself: {shown}. "
                   "DOCKER-USER/FORWARD never sees traffic addressed to the host; INPUT does.")
    fix = Fix(rules=[host_input("ip", ip(iface=net.bridge), ct(state("NEW")), act("reject"))],
              note="keep DNS or other services the containers need from the host "
                   "allowed above this rule",
              unplaced=f'nft insert rule inet filter input iifname "{net.bridge}" ct state new '
                       "drop  (in a table of your own, input hook)")
    return Finding(ID, SEVERITY, TITLE, f"network {net.name}", explanation, [], fix,
                   scope={f"network {net.name}"})
