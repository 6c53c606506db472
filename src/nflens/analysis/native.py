"""Fixes and explanations in the host firewall manager's own language (ufw, firewalld).

A fix the admin's manager does not know is lost at its next reload or at a reboot, and the admin
reads the manager's rules, not the INPUT chain. So on a ufw or firewalld host the fix is written
where the manager keeps rules, and the explanation names the manager's rule:
- ufw (what ufw-docker does, exactly instead of by private ranges): a DOCKER-USER block in
  /etc/ufw/after.rules (after6.rules for IPv6) that hands forwarded connections to ufw's
  `route` rules (chain ufw-user-forward; ufw6-user-forward in ip6tables) and drops the
  published port's other connections by their original destination port (DNAT does not rewrite
  it), plus one `ufw route allow` per ufw rule that admits the port as a host service, to the
  container's network. ufw rebuilds both at every reload and boot.
- firewalld 1.x: the same rules as permanent direct rules (direct.xml) in mangle FORWARD, which
  firewalld re-adds at every start and reload (not in DOCKER-USER: see `_direct`).
  (firewalld >= 2.3 can instead refuse forwarded published ports that no zone allows:
  StrictForwardPorts=yes in firewalld.conf.)
Each fix carries the edits the manager's commands make to the kernel's rules (ufw's generated
lines: managers/ufw.generated), so the simulator verifies what the manager will load.
"""

from __future__ import annotations

import re

from nflens.analysis.context import AuditContext, Published
from nflens.analysis.fixes import Edit, Fix, iptables_table
from nflens.analysis.owners import Owner
from nflens.managers import ufw

BLOCK_BEGIN = "# BEGIN NFLENS DOCKER-USER (written by nflens audit; ufw reloads it)"
BLOCK_END = "# END NFLENS DOCKER-USER"


def admitting_owners(ctx: AuditContext, p: Published) -> list[tuple[str, Owner | None]]:
    """The rules that admit the port's intended sources, with their owners."""
    out = []
    for ref in ctx.intended_by(p):
        where, _, text = ref.partition(" ")
        file, _, line = where.rpartition(":")
        owner = ctx.owners.at(file, int(line)) if line.isdigit() else None
        out.append((text or ref, owner))
    return out


def manager_terms(ctx: AuditContext, p: Published) -> str:
    """One sentence naming the manager's rules that mean to admit this port (or that none does)."""
    managers = ctx.owners.managers
    if not managers:
        return ""
    named = [f"`{o.says}` ({o.config})" for _, o in admitting_owners(ctx, p)
             if o is not None and o.kind in managers and o.says]
    b = p.binding
    if named:
        return (f"{' and '.join(managers)} admits {b.proto}/{b.host_port} only as "
                f"{'; '.join(named)}, but {' and '.join(managers)}'s rules for incoming "
                "connections apply to the host's own services: a published port's connections "
                "are forwarded to the container and never meet them.")
    text = (f"{' and '.join(managers)} admits nobody on {b.proto}/{b.host_port} (its default "
            "policy), but a published port's connections are forwarded to the container and "
            f"never meet {' and '.join(managers)}'s rules for incoming connections.")
    speaking = _speaking_of(ctx, p, managers)
    if speaking:
        text += (" Its rules that name the port admit nobody where the connections arrive: "
                 + "; ".join(f"`{o.says}` ({o.config})" for o in speaking) + ".")
    return text


def _speaking_of(ctx: AuditContext, p: Published, managers: tuple[str, ...]) -> list[Owner]:
    """The managers' rules that name this port (a rich rule in another zone, say)."""
    pattern = re.compile(rf"dport {p.binding.host_port}\b")
    out: dict[str, Owner] = {}
    for t in ctx.host.ruleset.tables:
        for c in t.chains:
            for r in c.rules:
                owner = ctx.owners.of(r) if pattern.search(r.text) else None
                if owner is not None and owner.kind in managers and owner.says:
                    out.setdefault(owner.says, owner)
    return list(out.values())


def _network(p: Published) -> str | None:
    addr = p.container_addr()
    for ep in p.container.endpoints:
        iface = ep.ipv6 if p.version == 6 else ep.ipv4
        if iface is not None and addr is not None and iface.ip == addr:
            return str(iface.network)
    return None


def has_ufw_forward(ctx: AuditContext, family: str) -> bool:
    """Whether the family's filter table has ufw's route rules' chain, which the ufw fix jumps
    to: `ufw-user-forward` in iptables, `ufw6-user-forward` in ip6tables (ufw names its IPv6
    chains `ufw6-*`; a jump to `ufw-user-forward` would not load in ip6tables)."""
    table = iptables_table(ctx.host, family)
    return table is not None and table.chain(ufw.user_forward(family)) is not None


def _docker_user(ctx: AuditContext, family: str) -> list[str]:
    table = iptables_table(ctx.host, family)
    chain = table.chain("DOCKER-USER") if table is not None else None
    return [r.text.removeprefix("-A DOCKER-USER ") for r in (chain.rules if chain else ())]


def ufw_fix(ctx: AuditContext, p: Published, excess: dict, drop_base: str) -> Fix | None:
    """DOCKER-USER lines for after.rules (after6.rules) and `ufw route allow` rules; None when
    ufw's admitting rules are not plain allow tuples (limit, apps), the container's network is
    unknown, or the family's filter table has no route chain (`ufw-user-forward`; in ip6tables
    `ufw6-user-forward`: every ufw host declares it, but a
    snapshot may lack it: a jump to it would not load there, and the route rules would not be
    where ufw puts them; the caller then gives the DOCKER-USER form and names the missing chain).

    The lines compose with the other findings' (each says where in the one block they go): the
    drops come right after the block's `-j ufw-user-forward`, which comes after the rules the
    chain has today (the admin's own DROP still comes first). The `ufw route` commands need no
    family: ufw puts a rule to an IPv6 network in user6.rules (ufw6-user-forward) by itself."""
    net = _network(p)
    if not has_ufw_forward(ctx, p.family):
        return None
    admitting = [o for _, o in admitting_owners(ctx, p) if o is not None]
    tuples = [ufw.parse_tuple(o.ufw_tuple) for o in admitting if o.ufw_tuple]
    if net is None or len(tuples) != len(admitting) or any(
            t is None or t.action != "allow" or t.dapp or t.sapp for t in tuples):
        return None
    routes = [ufw.Tuple("allow", p.binding.proto, str(p.binding.container_port), net, t.sport,
                        t.src, tuple((w, i) for w, i in t.ways if w == "in") or (("in", ""),),
                        route=True) for t in tuples if t is not None]
    chain, fwd = _docker_user(ctx, p.family), ufw.user_forward(p.family)
    drops = [f"-i {iface} {drop_base} -j DROP" for iface in excess]
    if f"-j {fwd}" in chain:
        at, lines = chain.index(f"-j {fwd}") + 2, drops
        where = f"right after its `-A DOCKER-USER -j {fwd}`"
    else:
        at = len(chain) if chain and chain[-1] == "-j RETURN" else len(chain) + 1
        lines = [f"-j {fwd}"] + drops
        where = "before its last `-A DOCKER-USER -j RETURN`"
    shown = "\n".join(_block_intro(ctx, p.family, chain, where)
                      + [f"-A DOCKER-USER {r}" for r in lines]
                      + ["# and the ufw rules that admit the port, as route rules to the "
                         "container's network:"] + [ufw.render(r) for r in routes]
                      + ["ufw reload"])
    edits = [Edit(p.family, "filter", "DOCKER-USER", at + i, r) for i, r in enumerate(lines)]
    edits += [Edit(p.family, "filter", fwd, 0, line.split(" ", 2)[2])
              for r in routes for line in ufw.generated(r, p.family)]
    six = "6" if p.version == 6 else ""
    return Fix(edits, shown=shown,
               note=f"ufw loads both at every `ufw reload` and boot: after{six}.rules sets "
                    f"DOCKER-USER to its block, user{six}.rules holds the route rules")


def _direct(family: str, specs: list[str]) -> list[str]:
    """firewall-cmd lines: the rules as permanent direct rules in mangle FORWARD (one priority
    each), not in DOCKER-USER.

    What the lab showed (firewalld 1.3.3 nftables backend, Docker 20.10, issue 13): at every
    `firewall-cmd --reload` firewalld flushes the iptables rules and re-adds its direct rules;
    Docker then re-creates its own on firewalld's Reloaded signal, *inserting* its ACCEPT rules
    at the top of filter FORWARD and `-j DOCKER-USER` after them. Direct rules in DOCKER-USER
    (and a direct jump to it at FORWARD's top, tried too) then never see a published port's
    connections until dockerd restarts. mangle FORWARD is a base chain of its own that Docker
    does not touch, and a DROP there is final whatever filter FORWARD accepts later; the
    packets are the same (after DNAT, before filter)."""
    ipv = "ipv6" if family == "ip6" else "ipv4"
    return ([f"firewall-cmd --permanent --direct --add-rule {ipv} mangle FORWARD {n} {s}"
             for n, s in enumerate(specs)] + ["firewall-cmd --reload"])


def _direct_edits(family: str, specs: list[str]) -> list[Edit]:
    return [Edit(family, "mangle", "FORWARD", i + 1, s) for i, s in enumerate(specs)]


def firewalld_fix(p: Published, specs: list[str]) -> Fix:
    """The fix's rules as permanent direct rules in mangle FORWARD, in order (`_direct`)."""
    return Fix(_direct_edits(p.family, specs), shown="\n".join(_direct(p.family, specs)),
               note="firewalld re-adds its direct rules (/etc/firewalld/direct.xml) at every "
                    "start and reload; on firewalld >= 2.3, StrictForwardPorts=yes in "
                    "firewalld.conf refuses forwarded published ports no zone allows")


def _after_rules_block(ctx: AuditContext, version: int) -> tuple[str, int]:
    """after.rules' path on the host, and the line of its DOCKER-USER declaration (0: none)."""
    name = "etc/ufw/after6.rules" if version == 6 else "etc/ufw/after.rules"
    text = dict(ctx.host.persist).get(name, "")
    line = next((n for n, t in enumerate(text.splitlines(), 1)
                 if t.strip().startswith(":DOCKER-USER")), 0)
    return "/" + name, line


def _block_intro(ctx: AuditContext, family: str, chain: list[str], where: str) -> list[str]:
    """Where the lines go: the DOCKER-USER block of after.rules, created once (with the rules
    the chain has today, since ufw sets the chain to the block at every reload) if there is
    none."""
    version = 6 if family == "ip6" else 4
    path, line = _after_rules_block(ctx, version)
    if line:
        return [f"# in the DOCKER-USER block of {path} (`:DOCKER-USER` at line {line}), {where}:"]
    today = chain + ([] if chain and chain[-1] == "-j RETURN" else ["-j RETURN"])
    return ([f"# once: append a DOCKER-USER block to {path} (ufw sets the chain to it at every "
             "reload; it starts with the chain's rules of today):", BLOCK_BEGIN, "*filter",
             # ufw-init restores after.rules before user.rules: the jump's target must be
             # declared here (lab: "Chain 'ufw-user-forward' does not exist"; user.rules
             # declares and fills it again right after, as in ufw-docker's block; the same
             # for after6.rules, user6.rules and ufw6-user-forward)
             f":{ufw.user_forward(family)} - [0:0]", ":DOCKER-USER - [0:0]"]
            + [f"-A DOCKER-USER {r}" for r in today]
            + ["COMMIT", BLOCK_END, f"# then in that block, {where}:"])


def translate(ctx: AuditContext, fix: Fix) -> Fix:
    """A fix of DOCKER-USER inserts, written where the host's manager keeps rules: ufw's
    after.rules block (the same edits), or firewalld's direct rules, which move to mangle
    FORWARD (the edits follow, so the simulator verifies what firewalld will load)."""
    managers = ctx.owners.managers
    if not managers or fix.shown or not fix.edits or not all(
            e.chain == "DOCKER-USER" and e.table == "filter" and e.spec is not None
            and e.family in ("ip", "ip6") for e in fix.edits):
        return fix
    parts: list[str] = []
    edits = list(fix.edits)
    for family in dict.fromkeys(e.family for e in fix.edits):
        mine = [e for e in fix.edits if e.family == family]
        if "ufw" in managers:
            top = all(e.position == i + 1 for i, e in enumerate(mine))
            parts += _block_intro(ctx, family, _docker_user(ctx, family),
                                  "as its first lines" if top else "at these places")
            parts += [f"-A DOCKER-USER {e.spec}" if top else e.command() for e in mine]
            parts.append("ufw reload")
        else:
            specs = [e.spec for e in mine if e.spec is not None]
            parts += _direct(family, specs)
            edits = [e for e in edits if e.family != family] + _direct_edits(family, specs)
    return Fix(edits, note=fix.note, shown="\n".join(parts))
