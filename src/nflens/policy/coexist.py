"""The host firewall manager beside nflens' policy: what its reload does to nflens' chains.

Measured in the lab (ufw 0.36, issue 13.5): `ufw reload` flushes and reloads ufw's own ufw-*
chains and keeps foreign chains and the jumps to them (NFLENS-USER from DOCKER-USER,
NFLENS-INPUT from INPUT) — unless after.rules (or after6.rules) declares DOCKER-USER, as
ufw-docker's block and nflens' own ufw fix do: iptables-restore then flushes DOCKER-USER and
fills it from the block, and the jump to NFLENS-USER is gone until the next `nflens policy
apply`. Writing the jump into the block is no cure: at boot ufw starts before nflens' chain
exists, and declaring NFLENS-USER there too would empty it at every reload.
firewalld 1.3.3 (nftables backend): `firewall-cmd --reload` flushes the iptables tables, with or
without direct rules configured (lab: Docker's rules were gone until Docker re-created them on
firewalld's Reloaded signal, and NFLENS-USER and its jump were gone for good), so nflens' chains
must be applied again after each firewalld reload.
"""

from __future__ import annotations

import re

from nflens.ir.host import Host

DECLARES = re.compile(r"^\s*:DOCKER-USER\b", re.M)


def manager_notes(host: Host) -> list[str]:
    """One line per firewall manager of the host: what its reload does to the policy."""
    from nflens.analysis.owners import RuleOwners

    managers = RuleOwners(host).managers
    files = dict(host.persist)
    notes = []
    if "ufw" in managers:
        declared = [f"/{n}" for n in ("etc/ufw/after.rules", "etc/ufw/after6.rules")
                    if DECLARES.search(files.get(n, ""))]
        if declared:
            notes.append(f"ufw manages this host's firewall and {', '.join(declared)} declares "
                         "DOCKER-USER: every `ufw reload` (and boot) resets that chain to the "
                         "block there and drops the jump to NFLENS-USER; run `nflens policy "
                         "apply` again after each `ufw reload` (`nflens policy watch` does not "
                         "see ufw reloads)")
        else:
            notes.append("ufw manages this host's firewall: `ufw reload` keeps nflens' chains "
                         "and their jumps (it reloads only its own ufw-* chains)")
    if "firewalld" in managers:
        notes.append("firewalld manages this host's firewall: run `nflens policy apply` again "
                     "after each `firewall-cmd --reload` (it flushes the iptables rules, "
                     "nflens' chains with them; Docker re-creates only its own)")
    return notes
