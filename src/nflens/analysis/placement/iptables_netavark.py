"""iptables hosts where Podman's netavark owns the forward path (its iptables driver, or its
nftables driver beside the iptables-nft tables an admin's INPUT rules made): netavark has no
user chain like Docker's DOCKER-USER, so a forward rule goes at the top of filter FORWARD,
before netavark's jump (`-A FORWARD -m comment --comment "netavark firewall plugin rules" -j
NETAVARK_FORWARD`, seen first in FORWARD on netavark 1.4.0 and 1.17.2 in the lab fixtures
tests/fixtures/podman). In the nftables driver's case a drop in filter FORWARD is final for
the packet whatever `inet netavark` accepts (nft(8) "VERDICT STATEMENT": an accept ends only
its base chain; kernel/pipeline.py), so the same place holds.

What it does not hold by itself: netavark *inserts* its jump at position 1 when it creates
its chains (at the first container start after a boot or a flush, `podman network reload`),
which puts its accept before a rule restored earlier; the fix says so (re-apply it after
Podman's first container start, or from a unit ordered after it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nflens.analysis.fixes import Edit, Fix, iptables_table
from nflens.analysis.intent import Where
from nflens.analysis.placement import iptables_docker_user as docker_user

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext

NAME = "iptables-netavark"
RANK = 35
CHAIN = "FORWARD"
TOPICS = {
    "origdst": "rules in FORWARD match the original destination port "
               "(-m conntrack --ctorigdstport), which netavark's DNAT does not rewrite",
    "ctdir": "or add --ctdir ORIGINAL to the blocking rule",
}
DURABILITY = ("netavark inserts its NETAVARK_FORWARD jump at the top of FORWARD when it "
              "re-creates its rules (first container start after a boot or a flush, `podman "
              "network reload`): re-apply this after it, or from a unit ordered after podman")


def _netavark_host(ctx: AuditContext) -> bool:
    return bool(ctx.host.podman.networks) and not any(
        t.chain("DOCKER-USER") is not None for t in ctx.host.ruleset.tables
        if t.origin.startswith("iptables"))


def owns(ctx: AuditContext, fix: Fix) -> bool:
    """A Podman host without DOCKER-USER whose every fix rule is a forward or input rule of a
    family with an iptables filter table that has FORWARD."""
    if not _netavark_host(ctx) or not fix.rules:
        return False
    for r in fix.rules:
        table = iptables_table(ctx.host, r.family)
        if r.where not in (Where.FORWARD, Where.INPUT) or table is None \
                or table.chain(CHAIN) is None:
            return False
    return True


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    edits = [Edit(r.family, "filter", CHAIN if r.where is Where.FORWARD else "INPUT",
                  r.position, docker_user.spec(r)) for r in fix.rules]
    note = "; ".join(x for x in (TOPICS.get(fix.topic, ""), fix.note, DURABILITY) if x)
    return Fix(edits, note=note, rules=fix.rules, guard=fix.guard,
               forward_only=all(r.where is Where.FORWARD for r in fix.rules))
