"""ufw hosts: the fix where ufw keeps rules, so that `ufw reload` and a reboot keep it.

What ufw-docker does, exactly instead of by private ranges: a DOCKER-USER block in
/etc/ufw/after.rules (after6.rules for IPv6) that hands forwarded connections to ufw's `route`
rules (chain ufw-user-forward; ufw6-user-forward in ip6tables) and drops the published port's
other connections by their original destination port (DNAT does not rewrite it), plus one
`ufw route allow` per ufw rule that admits the port as a host service, to the container's
network. ufw rebuilds both at every reload and boot. The edits are what ufw's commands make of
the kernel's rules (ufw's generated lines: managers/ufw.generated), so the simulator verifies
what ufw will load. Any other fix of DOCKER-USER inserts goes into the same block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nflens.analysis.fixes import Edit, Fix, iptables_table
from nflens.analysis.intent import forward
from nflens.analysis.native import admitting_owners
from nflens.analysis.placement import iptables_docker_user as iptables
from nflens.managers import ufw

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext, Published
    from nflens.ir.host import Host

NAME = "ufw"
RANK = 10
BLOCK_BEGIN = "# BEGIN NFLENS DOCKER-USER (written by nflens audit; ufw reloads it)"
BLOCK_END = "# END NFLENS DOCKER-USER"


def owns(ctx: AuditContext, fix: Fix) -> bool:
    return "ufw" in ctx.owners.managers and iptables.owns(ctx, fix)


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    """A guarded published port as route rules and block lines (`ufw_fix`) where ufw's rules
    allow it; else the DOCKER-USER rules in the after.rules block (`translate`)."""
    guard = fix.guard
    if guard is not None:
        base = iptables.spec(forward(guard.published.family, *guard.matches))
        native = ufw_fix(ctx, guard.published, dict.fromkeys(guard.ifaces), base)
        if native is not None:
            return native
    placed = iptables.realize(ctx, fix, owner)
    if guard is not None and not has_ufw_forward(ctx, guard.published.family):
        p = guard.published
        six = "6" if p.version == 6 else ""
        placed.note += (f"; not as ufw route rules: this snapshot's {p.family} filter table "
                        f"has no {ufw.user_forward(p.family)} chain (ufw declares it in "
                        f"before{six}.rules and user{six}.rules)")
    return translate(ctx, placed)


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
    return _docker_user_of(ctx.host, family)


def _docker_user_of(host: Host, family: str) -> list[str]:
    table = iptables_table(host, family)
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
    return Fix(edits, shown=shown, manager=NAME,
               note=f"ufw loads both at every `ufw reload` and boot: after{six}.rules sets "
                    f"DOCKER-USER to its block, user{six}.rules holds the route rules")




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
    """DOCKER-USER inserts as lines of the after.rules block (the same edits)."""
    parts: list[str] = []
    for family in dict.fromkeys(e.family for e in fix.edits):
        mine = [e for e in fix.edits if e.family == family]
        top = all(e.position == i + 1 for i, e in enumerate(mine))
        parts += _block_intro(ctx, family, _docker_user(ctx, family),
                              "as its first lines" if top else "at these places")
        parts += [f"-A DOCKER-USER {e.spec}" if top else e.command() for e in mine]
        parts.append("ufw reload")
    return Fix(list(fix.edits), note=fix.note, shown="\n".join(parts), manager=NAME)


def merged(ctx: AuditContext, fixed: Host, fixes: list[Fix]) -> list[str]:
    """Several fixes' ufw forms as one: per family, the DOCKER-USER block of after.rules
    (after6.rules) once, as it must read with every fix made (ufw sets the chain to the block
    at every reload: its lines are the chain of the host with all the fixes' edits, `fixed`),
    then each fix's `ufw route` commands once; the caller reloads ufw once."""
    out: list[str] = []
    for family in dict.fromkeys(e.family for f in fixes for e in f.edits
                                if e.chain == "DOCKER-USER"):
        version = 6 if family == "ip6" else 4
        path, line = _after_rules_block(ctx, version)
        rules = [f"-A DOCKER-USER {r}" for r in _docker_user_of(fixed, family)]
        if line:
            out.append(f"# in {path}, the DOCKER-USER block (`:DOCKER-USER` at line {line}) "
                       "with all the fixes made, its -A lines as they must read:")
            out += rules
            continue
        out += [f"# once: append a DOCKER-USER block to {path} (ufw sets the chain to it at "
                "every reload; it holds the chain's rules of today with all the fixes made):",
                BLOCK_BEGIN, "*filter", f":{ufw.user_forward(family)} - [0:0]",
                ":DOCKER-USER - [0:0]", *rules, "COMMIT", BLOCK_END]
    commands = [ln for f in fixes for ln in f.shown.splitlines()
                if ln.startswith("ufw ") and ln != "ufw reload"]
    if commands:
        out.append("# and the ufw rules that admit the ports, as route rules to the containers' "
                   "networks:")
    return out + list(dict.fromkeys(commands))
