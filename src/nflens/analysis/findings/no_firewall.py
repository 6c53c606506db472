"""No firewall at all (issue 29.7): the snapshot's rulesets are there and hold no rule, every
base chain accepts, and services listen where others can reach them. Each service may be
meant to be reachable, yet nothing on the host says from where: every source the routes allow
gets in (the exposure's `admitted_by` is "no filtering rule on the path").

Reported once for the host (one cause), with every port reached that way. Not reported when a
ruleset file is missing: the audit then assumed "no rules" (Host.assumptions says so), which is
not the same as a host known to have none.

The fix is a default-deny INPUT chain: loopback, replies (conntrack ESTABLISHED,RELATED) and
ICMP kept (for IPv6 also DHCPv6 replies from link-local servers, as ufw's before6.rules keeps
them: neighbour discovery and DHCPv6 break otherwise), then each open service allowed from the
network of the interface it was reached on, and the rest dropped. It is verified by running
the exposure again on the fixed host: no port may still be reached with no rule deciding.
"""

from __future__ import annotations

import ipaddress

from nflens.analysis.context import AuditContext
from nflens.analysis.exposure import Exposure
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import FixRule, act, ct, host_input, ip, ports, state
from nflens.analysis.partition import listed, readable
from nflens.analysis.space import reaches_internet
from nflens.ir.host import Host
from nflens.ir.rules import Action, XtMatch

ID = "no-firewall"
SEVERITY = "high"  # "medium" when only local space reaches the services
TITLE = "No firewall: services reachable with no rule in the way"
SUBJECT = "no rules"
UNFILTERED = "no filtering rule on the path"  # analysis.exposure.admitting_rule's answer
RULE_FILES = {4: ("iptables-save.txt", "nft.json", "nft.txt"),
              6: ("ip6tables-save.txt", "nft.json", "nft.txt")}
ACCEPT = act("accept")
_LINK6 = ipaddress.ip_network("fe80::/10")
Keep = list[tuple[XtMatch | Action, ...]]
KEEP: dict[int, Keep] = {
    4: [(ip(iface="lo"), ACCEPT), (ct(state("RELATED,ESTABLISHED")), ACCEPT),
        (ip(proto="icmp"), ACCEPT)],
    6: [(ip(iface="lo"), ACCEPT), (ct(state("RELATED,ESTABLISHED")), ACCEPT),
        (ip(proto="ipv6-icmp"), ACCEPT),
        (ip(src=_LINK6, dst=_LINK6, proto="udp"), ports("udp", 546, 547), ACCEPT)]}


def detect(ctx: AuditContext) -> list[Finding]:
    if not _empty(ctx.host):
        return []
    open_ = [(e, r) for e in _exposures(ctx) for r in e.reach if r.admitted_by.get(UNFILTERED)]
    versions = {v for _, r in open_ for v, spans in r.admitted_by[UNFILTERED].items() if spans}
    if not versions or not all(_known(ctx.host, v) for v in versions):
        return []
    shown = []
    for e, r in open_:
        what = e.target.get("process") or f"{e.target.get('container')}:{e.target.get('port')}"
        shown.append(f"{e.proto}/{e.host_addr}:{e.host_port} ({what}) on {r.iface} from "
                     f"{listed(readable(r.admitted_by[UNFILTERED], r.never), 4)}")
    world = any(reaches_internet(r.sources()) for _, r in open_)
    files = ", ".join(f for f in ctx.host.files if f in RULE_FILES[4] + RULE_FILES[6])
    explanation = (f"The rulesets of this snapshot ({files}) hold no rule and every chain "
                   "accepts: nothing filters what reaches the host, so each service below "
                   "takes a connection from every source the routes let in. Reachable with no "
                   "rule in the way: " + "; ".join(shown) + ".")
    return [Finding(ID, "high" if world else "medium", TITLE, SUBJECT, explanation, [],
                    _fix(ctx.host, open_))]  # scope None: re-analyse all


def still_there(ctx: AuditContext, finding: Finding) -> str | None:
    """On the fixed host: a port still reached with no filtering rule deciding."""
    left = [f"{e.proto}/{e.host_port} on {r.iface}" for e in _exposures(ctx) for r in e.reach
            if any(r.admitted_by.get(UNFILTERED, {}).values())]
    return f"reached with no rule in the way: {', '.join(left)}" if left else None


def _exposures(ctx: AuditContext) -> list[Exposure]:
    return [p.exposure for p in ctx.published] + [e for _, e in ctx.sockets]


def _empty(host: Host) -> bool:
    """No rule in any table, and every base chain's policy accepts (a drop policy with no
    rule is a firewall: it refuses everything)."""
    return all(not c.rules and c.policy in (None, "accept")
               for t in host.ruleset.tables for c in t.chains)


def _known(host: Host, version: int) -> bool:
    """A ruleset file of that family is in the snapshot (an empty one, since `_empty`)."""
    return any(f in host.files for f in RULE_FILES[version])


def _fix(host: Host, open_) -> Fix:
    rules: list[FixRule] = []
    for version, family in ((4, "ip"), (6, "ip6")):
        services = _services(host, open_, version)
        if not services:
            continue
        rules += [host_input(family, *r, position=0)
                  for r in KEEP[version] + services + [(act("drop"),)]]
    note = ("each service is allowed from the network of the interface it was reached on: "
            "widen -s for one meant for more, drop its line for one meant for nobody")
    return Fix(rules=rules, note=note)


def _services(host: Host, open_, version: int) -> list[tuple]:
    out: list[tuple] = []
    for e, r in open_:
        if not r.admitted_by[UNFILTERED].get(version):
            continue
        iface = host.interface(r.iface)
        for a in iface.addresses if iface else ():
            if a.ip.version == version and a.scope != "link":
                spec = (ip(src=a.network, iface=r.iface, proto=e.proto),
                        ports(e.proto, e.host_port), ACCEPT)
                if spec not in out:
                    out.append(spec)
    return out
