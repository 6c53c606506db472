"""IPv4 restrictions with no IPv6 counterpart.

A published port that IPv4 reaches only from some sources (a DOCKER-USER allow-list, an INPUT
policy) but IPv6 reaches from everywhere the host routes: the admin wrote iptables rules and
forgot ip6tables (Docker publishes on [::] too when IPv6 is on; since Docker 27 ip6tables is
managed by default). Compared per published port and interface, from the exact exposure."""

from __future__ import annotations

from nflens.analysis.context import AuditContext, Published
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.partition import listed, readable

ID = "ipv6-gap"
SEVERITY = "high"
TITLE = "IPv4 is restricted, IPv6 is not"


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    by_port: dict[tuple[str, str, int | None], dict[int, Published]] = {}
    for p in ctx.published:
        key = (p.name, p.binding.proto, p.binding.host_port)
        by_port.setdefault(key, {})[p.version] = p
    for (name, proto, port), fams in by_port.items():
        if 4 not in fams or 6 not in fams:
            continue
        p4, p6 = fams[4], fams[6]
        for r4, r6 in zip(p4.exposure.reach, p6.exposure.reach):
            v4 = r4.version_ranges.get(4, [])
            v6 = r6.version_ranges.get(6, [])
            # v6 first: where IPv6 reaches nobody there is no gap, and `_refused` costs an
            # exposure analysis of the port on the host without the admin's rules
            if v6 and _refused(ctx, p4, r4.iface, v4) and _open6(ctx, p6, r6.iface, v6):
                out.append(Finding(
                    ID, SEVERITY, TITLE, f"{proto}/{port}->{name} on {r4.iface}",
                    f"On {r4.iface}, {proto}/{port} (-> {name}) is limited over IPv4 (reachable "
                    f"from {_sources4(r4, ctx.analysis.never)}), but "
                    f"over IPv6 it is reachable from "
                    f"{listed(readable({6: v6}, ctx.analysis.never), 4)}: the IPv4 rules have no "
                    "ip6tables counterpart.", [],
                    Fix(note="repeat the IPv4 rules with ip6tables (DOCKER-USER exists in "
                             "ip6tables too), or turn IPv6 publishing off for this port "
                             "(-p 0.0.0.0:PORT:PORT)")))
    return out


def _sources4(r4, never) -> str:
    """The IPv4 side as the exposure has it: the allowed sources, and the uncertain ones with
    why. It said "reachable from nowhere" where a `-m set` rule without ipset-save.txt left
    every source uncertain (issue 25)."""
    allowed = listed(readable({4: r4.version_ranges.get(4, [])}, never), 4)
    unsure = r4.uncertain.get(4, [])
    if not unsure:
        return allowed or "nowhere"
    because = r4.uncertain_because[0] if r4.uncertain_because else "?"
    return (f"{allowed or 'nowhere for certain'}; uncertain from "
            f"{listed(readable({4: unsure}, never), 4)}, because {because}")


def _refused(ctx, p4, iface, v4) -> bool:
    """IPv4 is deliberately narrowed: it admits fewer sources than it would with no rules
    of the admin's (the same host without any DOCKER-USER rule and an accepting INPUT)."""
    return bool(v4) and v4 != _unfiltered(ctx, p4, iface) or (not v4 and bool(
        _unfiltered(ctx, p4, iface)))


def _open6(ctx, p6, iface, v6) -> bool:
    return v6 == _unfiltered(ctx, p6, iface)


def _unfiltered(ctx, p, iface):
    cache = ctx.__dict__.setdefault("_unfiltered", {})
    key = (p.subject(), iface)
    if key not in cache:
        reach = {r.iface: r for r in _unfiltered_analysis(ctx).published(p.container, p.binding
                                                                             ).reach}
        cache[key] = reach[iface].version_ranges.get(p.version, []) if iface in reach else []
    return cache[key]


def _unfiltered_analysis(ctx):
    """One analysis of the host without the admin's rules for every port: building it (a
    simulator, its indexes) per port and interface made this finding quadratic in the
    number of published ports."""
    if "_unfiltered_analysis" not in ctx.__dict__:
        from nflens.analysis.exposure import ExposureAnalysis

        ctx.__dict__["_unfiltered_analysis"] = ExposureAnalysis(_without_user_rules(ctx.host))
    return ctx.__dict__["_unfiltered_analysis"]


def _without_user_rules(host):
    from dataclasses import replace

    tables = []
    for t in host.ruleset.tables:
        chains = []
        for c in t.chains:
            if c.name == "DOCKER-USER":
                c = replace(c, rules=())
            elif c.hook == "input" and t.origin.startswith("iptables"):
                c = replace(c, rules=(), policy="accept")
            chains.append(c)
        tables.append(replace(t, chains=tuple(chains)))
    return replace(host, ruleset=replace(host.ruleset, tables=tuple(tables)))
