"""A port published on one host address is reachable from other interfaces too.

`-p 10.99.0.1:8080:80` chooses the destination address, not the interface: Linux is a weak
host (RFC 1122 3.3.4.2 leaves it open; net/ipv4/route.c ip_route_input_slow finds the local
route of any of the host's addresses whatever the input device, and Docker's DNAT matches
`-d 10.99.0.1/32` with no `-i`). A WAN client that routes 10.99.0.1 via this host — its
default route does — reaches the port. Lab: tests/fixtures/lab/bound_port-* (20.10 and 28, with
and without docker-proxy): the WAN client reached 10.99.0.1:8080; the DOCKER-USER rule this
finding proposes (variant `fixed`) stopped it and kept the LAN. From the exact exposure.
"""

from __future__ import annotations

import ipaddress

from nflens.analysis.context import AuditContext, Published
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import act, ct, forward, ip, origdst, origdstport, state
from nflens.analysis.partition import listed, readable

ID = "address-bound-port"
SEVERITY = "medium"
TITLE = "Address-bound port reachable from another interface"
ANY = ("", "0.0.0.0", "::")


def _owner(ctx: AuditContext, p: Published) -> str | None:
    """The interface that holds the binding's address (None: a wildcard or no such address)."""
    if p.binding.host_ip in ANY:
        return None
    try:
        addr = ipaddress.ip_address(p.binding.host_ip)
    except ValueError:
        return None
    return ctx.sim.model.local.get(addr)


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for p in ctx.published:
        owner = _owner(ctx, p)
        if owner is None or owner == "lo":
            continue
        others = {r.iface: r.version_ranges[p.version] for r in p.exposure.reach
                  if r.iface not in (owner, "lo") and r.version_ranges.get(p.version)}
        if others:
            out.append(_finding(ctx, p, owner, others))
    return out


def _finding(ctx: AuditContext, p: Published, owner: str,
             others: dict[str, list[tuple[int, int]]]) -> Finding:
    b = p.binding
    where = "; ".join(f"{i}: {listed(readable({p.version: r}, ctx.analysis.never), 5)}"
                      for i, r in others.items())
    explanation = (
        f"{b.proto}/{b.host_port} (-> {p.name}) is published on {b.host_ip} only, {owner}'s "
        f"address, yet it is reachable from {', '.join(others)} too ({where}). Linux accepts "
        f"a packet for any of its addresses on any interface (weak host model) and Docker's "
        f"DNAT matches the address, not the interface: a client behind "
        f"{', '.join(others)} only has to send to {b.host_ip}. Binding to an address does not "
        "keep the other networks out.")
    fix = Fix(rules=[forward(p.family, ip(iface=iface, proto=b.proto),
                             ct(state("DNAT"), origdst(b.host_ip), origdstport(b.host_port)),
                             act("drop")) for iface in sorted(others)],
              unplaced=f"drop connections DNATed from {b.host_ip}:{b.host_port} arriving on "
                       f"{', '.join(others)}, at forward (ct original destination)")
    return Finding(ID, SEVERITY, TITLE, p.subject(), explanation, [], fix, scope={p.subject()})
