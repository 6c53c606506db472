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
must be applied again after each firewalld reload. And on Docker 20.10 that is not enough:
dockerd re-creates its chains on firewalld's Reloaded signal with FORWARD's jump to DOCKER-USER
*after* its own ACCEPT rules (lab, seed002 helper: the jump was FORWARD's last rule), so nothing
in DOCKER-USER decides a forwarded packet any more; the proof then refuses the policy, and
`late_docker_user` says why and what puts the jump first again (a dockerd restart: dockerd
inserts it at FORWARD's top when it starts).
"""

from __future__ import annotations

import re

from nflens.dialect_registry import tool_for
from nflens.ir.host import Host
from nflens.policy import iptables as xt

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


JUMP = "-A FORWARD -j DOCKER-USER"


def late_docker_user(host: Host) -> list[str]:
    """One line per iptables family whose FORWARD reaches its jump to DOCKER-USER only after
    other rules: a policy hooked into DOCKER-USER cannot decide what those rules accept.
    Docker itself always inserts the jump first; finding it later means someone re-created
    FORWARD under Docker (measured: dockerd 20.10 after `firewall-cmd --reload`)."""
    notes = []
    for version in xt.families(host):
        lines = xt.current_lines(host, version, "FORWARD") or []
        if JUMP not in lines or lines.index(JUMP) == 0:
            continue
        at, tool = lines.index(JUMP), tool_for(xt.FAMILY[version])
        notes.append(f"{tool} FORWARD jumps to DOCKER-USER only at rule {at + 1} of "
                     f"{len(lines)}, after `{lines[0]}`: rules in DOCKER-USER (the policy's "
                     "too) cannot decide what the rules before it accept. Docker inserts the "
                     "jump first when it starts: restart dockerd (`systemctl restart docker`), "
                     "then apply again" + (" (dockerd 20.10 re-creates FORWARD this way after "
                     "`firewall-cmd --reload`)" if "firewalld" in _managers(host) else ""))
    return notes


def _managers(host: Host) -> set[str]:
    from nflens.analysis.owners import RuleOwners

    return set(RuleOwners(host).managers)
