"""A jail's bans that do not cover a published port (issue 26): fail2ban (or CrowdSec's
bouncer) bans in INPUT, the jail's ports cover the published host port, and yet the banned
address reaches the container: Docker's DNAT in PREROUTING makes the connection a forwarded
one, and INPUT never sees it (net/ipv4/ip_input.c delivers locally only what the route lookup
after PREROUTING says is local; a DNATed packet is routed to the bridge).

The fix is the jail's, never a hand rule for today's addresses (fail2ban would not remove it
at unban, nor add the next ban): a second action of the jail's banaction in DOCKER-USER on the
container's port (DNAT has rewritten the port before FORWARD), in a jail.local override; for
CrowdSec, DOCKER-USER in `iptables_chains`. It is verified by simulating the rules that action
creates, holding today's bans: every banned source must be refused, every other source that
reached the port must still get in.
"""

from __future__ import annotations

from nflens.analysis import bans
from nflens.analysis.context import AuditContext, Published, rule_ref
from nflens.analysis.findings import Finding, input_bypass
from nflens.analysis.fixes import Fix
from nflens.analysis.partition import listed, readable, subtract

ID = "ban-bypass"
SEVERITY = "high"
TITLE = "A jail's bans do not cover a published port"


def detect(ctx: AuditContext) -> list[Finding]:
    found: list[tuple[bans.JailHook, Published, dict]] = []
    hooks = bans.hooks(ctx)
    for hook in hooks:
        if hook.chain != "INPUT" or hook.ipset and any(
                h.ipset == hook.ipset and h.family == hook.family
                and h.chain != "INPUT" for h in hooks):
            continue  # the same set on the forward path too: the bouncer bans there as well
        for p in ctx.published:
            b = p.binding
            if p.family != hook.family or not (hook.covers(b.proto, p.host_port) or (
                    b.container_port != p.host_port and hook.covers(b.proto,
                                                                    b.container_port))):
                continue  # a jail on the container's port in INPUT: meant for it too
            excess = bans.banned_reach(hook, p.version, p.exposure.reach)
            if excess or (hook.banned_in_set and p.exposure.reach):
                found.append((hook, p, excess))
    # every jail's bans on a port are refused by the host firewall: a source another jail
    # bans is not one this jail's fix must keep admitting (two jails on one port failed the
    # merged fix script: each one's bans were in the other's sources to keep)
    banned: dict[str, dict[str, list]] = {}
    for _, p, excess in found:
        for iface, ranges in excess.items():
            banned.setdefault(p.subject(), {}).setdefault(iface, []).extend(ranges)
    return [_finding(ctx, hook, p, excess, banned.get(p.subject(), {}))
            for hook, p, excess in found]


def _finding(ctx: AuditContext, hook: bans.JailHook, p: Published, excess,
             banned: dict[str, list]) -> Finding:
    b = p.binding
    who = "CrowdSec's bouncer" if hook.manager == "crowdsec" else f"jail {hook.jail}"
    where = "; ".join(f"{iface}: {listed(readable({p.version: r}, ctx.analysis.never))}"
                      for iface, r in excess.items()) or (
        f"wherever {hook.addresses()} are (not in the snapshot: which sources are banned "
        "is unknown)")
    config = f" ({hook.config})" if hook.config else ""
    kind = "bouncer" if hook.manager == "crowdsec" else "jail"
    chain = f"the input hook (table {hook.nft_table})" if hook.nft else "INPUT"
    explanation = (
        f"{who}'s bans ({hook.addresses()}) do not cover published port {b.proto}/"
        f"{b.host_port} → {p.name}:{b.container_port}. The {kind} "
        f"bans in {chain}{config}, on {hook.port_text()}{_container_port(hook, p)}; Docker's "
        "DNAT sends connections to the published port through FORWARD, which INPUT never "
        f"sees. Banned sources reach the container anyway from: {where}.")
    keep = {r.iface: subtract(r.version_ranges.get(p.version, []), banned.get(r.iface, []))
            for r in p.exposure.reach}
    rules = [rule_ref(hook.rule)]
    return Finding(ID, SEVERITY, TITLE, f"{who} {p.subject()}", explanation, rules,
                   _fix(hook, p), scope={p.subject()},
                   data=(p.binding, p.version, excess, keep))


def _container_port(hook: bans.JailHook, p: Published) -> str:
    b = p.binding
    if hook.covers(b.proto, p.host_port):
        return ""
    return (f" (the container's port {b.container_port}: in INPUT it is a port of the host, "
            f"and connections for the container arrive on {p.host_port})")


def _fix(hook: bans.JailHook, p: Published) -> Fix:
    b = p.binding
    name = f"{hook.jail}-docker"
    port = None if hook.ports is None else b.container_port
    shown = bans.second_action(hook, name, "DOCKER-USER", b.proto, port)
    if port is None:
        note = ("the jail's banaction bans on all ports: its second action bans in "
                "DOCKER-USER too, where the published port's connections pass")
    else:
        note = (f"the second action bans in DOCKER-USER on the container's port {port} (DNAT "
                f"rewrote {b.host_port} before FORWARD); a banaction whose rule matches "
                f"`-m conntrack --ctorigdstport {b.host_port}` would match only this published "
                "port")
    if hook.nft:
        note = note.replace("bans in DOCKER-USER", "bans in its own chain on the forward "
                            "hook (priority -1: before Docker's FORWARD rules)")
        note += (". Verified by simulating the same bans in DOCKER-USER, with today's bans "
                 "(both are the forward path after DNAT)")
    elif hook.ipset:
        note += (f". Verified by simulating the rule fail2ban creates for it (its set "
                 f"f2b-{name} gets every ban of the jail: simulated with today's members of "
                 f"{hook.ipset})")
    else:
        note += ". Verified by simulating the rules fail2ban creates for it, with today's bans"
    if hook.manager == "crowdsec" and hook.nft:
        return Fix(bans.forward_drop(hook), shown=bans.bouncer_nft_fix(hook), note=(
            "the bans then also apply on the forward hook, where the published port's "
            "connections pass (the input hook never sees them). Verified by simulating the "
            f"same drop in DOCKER-USER with today's members of {hook.ipset} (both are the "
            "forward path after DNAT). Or: mode iptables with DOCKER-USER in iptables_chains"))
    if hook.manager == "crowdsec":
        note = ("the bouncer then inserts its rule in DOCKER-USER too, where the published "
                "port's connections pass")
        if hook.banned_in_set:  # no ipset-save.txt: the members are unknown
            return Fix(shown=shown, note=note + " (its bans are ipset members, not in the "
                       "snapshot: not simulated)")
        return Fix(bans.bouncer_action(hook, "DOCKER-USER"), shown=shown, note=note +
                   ". Verified by simulating the rule it inserts there, with today's "
                   f"members of {hook.ipset}")
    if hook.banned_in_set:
        return Fix(shown=shown, note=note.split(". Verified")[0] + " (the bans are the members "
                   f"of ipset {hook.banned_in_set}, not in the snapshot: not simulated)")
    return Fix(bans.simulated_action(hook, name, "DOCKER-USER", b.proto, port), shown=shown,
               note=note)


def still_there(ctx: AuditContext, finding: Finding) -> str | None:
    """Every banned source that got in must now be refused, every other one still admitted
    (the same exact judgement as input-bypass's, over the jail's bans)."""
    return input_bypass.still_there(ctx, finding)
