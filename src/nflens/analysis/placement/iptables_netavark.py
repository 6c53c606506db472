"""iptables hosts where Podman's netavark owns the forward path (its iptables driver, or its
nftables driver beside the iptables-nft tables an admin's INPUT rules made): netavark has no
user chain like Docker's DOCKER-USER, so a forward rule goes at the top of filter FORWARD,
before netavark's jump (`-A FORWARD -m comment --comment "netavark firewall plugin rules" -j
NETAVARK_FORWARD`, seen first in FORWARD on netavark 1.4.0 and 1.17.2 in the lab fixtures
tests/fixtures/podman). In the nftables driver's case a drop in filter FORWARD is final for
the packet whatever `inet netavark` accepts (nft(8) "VERDICT STATEMENT": an accept ends only
its base chain; kernel/pipeline.py), so the same place holds.

What it does not hold by itself, with the iptables driver: netavark *inserts* its jump at
position 1 when the jump is missing (the first container start after a boot or a flush),
which puts its accept before a rule restored earlier; `podman network reload` keeps an
existing jump where it is (both seen in the lab on netavark 1.4.0 and 1.17.2:
tests/lab/test_lab_podman_fix.py). The fix says so. With the nftables driver netavark
re-creates only its own `inet netavark` table: the FORWARD rules stay (same test).
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
DURABILITY = {
    "iptables": "netavark inserts its NETAVARK_FORWARD jump at the top of FORWARD when the jump "
                "is missing (first container start after a boot or a flush; `podman network "
                "reload` keeps it in place): re-apply this after Podman's first container "
                "start, or from a unit ordered after it",
    "nftables": "netavark's nftables driver re-creates only its `inet netavark` table; these "
                "FORWARD rules stay (persist them as any iptables rule)",
}


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
    durability = DURABILITY.get(ctx.host.podman.daemon.firewall_backend, DURABILITY["iptables"])
    note = "; ".join(x for x in (TOPICS.get(fix.topic, ""), fix.note, durability) if x)
    return Fix(edits, note=note, rules=fix.rules, guard=fix.guard,
               forward_only=all(r.where is Where.FORWARD for r in fix.rules))
