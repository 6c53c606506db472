"""A nat-table "filter" that docker-proxy walks around (seed 004's DOCKER-FILTER trick).

Skipping Docker's DNAT for unwanted sources (a RETURN in nat PREROUTING, or a chain that only
jumps to DOCKER for wanted ones) looks like filtering and works in a lab with
userland-proxy=false. With the default userland-proxy=true, docker-proxy listens on the host
port itself: the un-DNATed connection is delivered locally to docker-proxy, which opens its
own connection to the container. The nat table is not a filter; the fix filters where it
counts — INPUT for the proxy's port (and DOCKER-USER for the DNAT path)."""

from __future__ import annotations

from nflens.analysis.context import AuditContext, Published
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import act, host_input, ip, ports
from nflens.analysis.partition import cidrs_of, listed, readable

ID = "nat-filter-proxy-bypass"
SEVERITY = "high"
TITLE = "Filtering in the nat table is bypassed by docker-proxy"


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for p in ctx.published:
        hits = [(r.iface, r.via_proxy.get(p.version, []), r.diverted_by) for r in p.exposure.reach
                if r.via_proxy.get(p.version) and r.diverted_by]
        if hits:
            out.append(_finding(ctx, p, hits))
    return out


def _finding(ctx: AuditContext, p: Published, hits) -> Finding:
    b = p.binding
    rules = {k: v for _, _, d in hits for k, v in d.items()}
    where = "; ".join(f"{iface}: {listed(readable({p.version: r}, ctx.analysis.never))}"
                      for iface, r, _ in hits)
    explanation = (
        f"A nat-table rule keeps some connections to {b.proto}/{b.host_port} away from Docker's "
        f"DNAT, but docker-proxy listens on {b.host_ip or '0.0.0.0'}:{b.host_port} and forwards "
        f"them to {p.name}:{b.container_port} anyway. Reaching it through docker-proxy: {where}. "
        "Note that the container then sees docker-proxy's address, not the client's.")
    return Finding(ID, SEVERITY, TITLE, p.subject(), explanation, list(rules.values()),
                   _fix(ctx, p, hits), scope={p.subject()})


def _fix(ctx: AuditContext, p: Published, hits) -> Fix:
    b = p.binding
    rules = []
    port, drop = ports(b.proto, b.host_port), act("drop")
    for iface, ranges, _ in hits:
        cidrs = cidrs_of(p.version, ranges)
        if len(cidrs) <= 4:
            rules += [(ip(src=c, iface=iface, proto=b.proto), port, drop) for c in cidrs]
        else:
            rules.append((ip(iface=iface, proto=b.proto), port, drop))
    return Fix(rules=[host_input(p.family, *r, position=i + 1) for i, r in enumerate(rules)],
               topic="nat-trick",
               unplaced="drop these sources for the port in the input hook, or set "
                        '"userland-proxy": false in daemon.json')
