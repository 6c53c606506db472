"""A container on a macvlan (or ipvlan) network: outside every firewall of this host.

Users put Pi-hole or Home Assistant on macvlan to give it a LAN address of its own. The
container's interface then sits on the parent device at layer 2 (kernel/lowerdev.py,
drivers/net/macvlan.c): what comes from the parent's link reaches it before the host's IP stack,
so no rule of this host — INPUT, FORWARD, DOCKER-USER, ufw, firewalld — applies, whatever the
admin writes. Only what the host routes to it through a macvlan shim crosses the host's chains.
Proven in the lab (tests/fixtures/lab/macvlan-*): with INPUT and DOCKER-USER drops for the
container the LAN still reached it. The finding checks its claim on the snapshot: a connection
from a neighbour on the parent's link is simulated and must pass no rule of the host at all.
"""

from __future__ import annotations

import ipaddress

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel import lowerdev
from nflens.kernel.hostmodel import Attachment

ID = "macvlan-outside-firewall"
SEVERITY = "high"
TITLE = "macvlan container outside every host firewall"


def _neighbour(ctx: AuditContext, att: Attachment) -> ipaddress.IPv4Address | None:
    """An address of the container's subnet that is neither a container's, the gateway's nor
    the host's: a neighbour on the parent's link."""
    iface = att.endpoint.ipv4
    if iface is None:
        return None
    model = ctx.sim.model
    taken = set(att.network.gateways if att.network else ()) | set(model.by_addr)
    for host in iface.network.hosts():
        if host not in taken and host not in model.local:
            return host
    return None


def _bypasses(ctx: AuditContext, att: Attachment) -> bool:
    """A neighbour on the parent's link reaches the container and no host rule is walked."""
    src, addr = _neighbour(ctx, att), att.addr(4)
    if src is None or addr is None or att.lower is None:
        return False
    flow = Flow("macvlan-neighbour", Endpoint(iface=att.lower, src=src), addr, 80)
    result = ctx.sim.run(flow)
    return result.verdict == "allow" and not any(s.kind == "rule" for s in result.steps)


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for att in ctx.sim.model.attachments:
        if not lowerdev.is_l2_child(att) or att.lower is None or not _bypasses(ctx, att):
            continue
        name, kind = att.container.name.lstrip("/"), lowerdev.kind(att)
        net = att.network.name if att.network is not None else att.endpoint.network
        shims = [i.name for i in ctx.host.interfaces
                 if i.kind == "macvlan" and i.lower == att.lower and i.mode == "bridge"]
        via = (f" Only what this host routes to it through its shim {', '.join(shims)} crosses "
               "the host's chains." if shims else
               " The host itself cannot reach it either (no macvlan shim on "
               f"{att.lower}).")
        explanation = (
            f"{name} has {att.addr(4)} on {att.lower}'s link through the {kind} network {net}: "
            f"frames from that link are handed to it by {att.lower}'s {kind} driver before the "
            "host's IP stack, so no rule of this host (INPUT, FORWARD, DOCKER-USER, ufw, "
            "firewalld) applies to them, and its published ports mean nothing. Checked: a "
            f"neighbour on {att.lower} reaches it without passing a single rule of the "
            f"host.{via}")
        fix = Fix(note=f"filter where the traffic passes: inside {name} (its own firewall or "
                       "the service's access control) or upstream (the LAN's switch or router); "
                       "or move it to a bridge network and publish its ports, so that the "
                       "host's rules apply")
        out.append(Finding(ID, SEVERITY, TITLE, f"container {name} {att.addr(4)} ({kind} on "
                           f"{att.lower})", explanation, [], fix))
    return out
