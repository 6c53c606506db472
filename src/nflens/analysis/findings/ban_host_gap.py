"""The reverse trap of ban-bypass (issue 26): a jail moved to DOCKER-USER (or FORWARD) "so
that bans reach the containers" no longer protects the host's own services. DOCKER-USER is
jumped to from FORWARD only; a connection to a socket of the host itself is delivered locally
after PREROUTING's route lookup and crosses INPUT, never FORWARD (net/ipv4/ip_input.c
ip_local_deliver vs net/ipv4/ip_forward.c). So a banned address still reaches the host's sshd.

The fix keeps the jail's DOCKER-USER action and adds a second one in INPUT on the service's
port (jail.local); it is verified by simulating the rules that action creates with today's
bans: the banned sources are refused at the socket, every other source still reaches it.
"""

from __future__ import annotations

from nflens.analysis import bans
from nflens.analysis.context import AuditContext, rule_ref
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.partition import listed, merge, readable, subtract

ID = "ban-host-gap"
SEVERITY = "high"
TITLE = "A jail moved to the forward path no longer protects the host's own service"


def detect(ctx: AuditContext) -> list[Finding]:
    hooks = bans.hooks(ctx)
    out = []
    for hook in hooks:
        if hook.chain == "INPUT" or any(h.chain == "INPUT" and h.jail == hook.jail
                                        and h.family == hook.family for h in hooks):
            continue
        for sock, exposure in ctx.sockets:
            version = 6 if hook.family == "ip6" else 4
            if not hook.covers(sock.proto, sock.port):
                continue
            excess = bans.banned_reach(hook, version, exposure.reach)
            if excess:
                out.append(_finding(ctx, hook, sock, exposure, version, excess))
    return out


def _subject(hook: bans.JailHook, sock) -> str:
    return f"jail {hook.jail} {sock.proto}/{sock.addr}:{sock.port}"


def _finding(ctx, hook: bans.JailHook, sock, exposure, version: int, excess) -> Finding:
    where = "; ".join(f"{iface}: {listed(readable({version: r}, ctx.analysis.never))}"
                      for iface, r in excess.items())
    service = f"{sock.proto}/{sock.port}" + (f" ({sock.process})" if sock.process else "")
    config = f" ({hook.config})" if hook.config else ""
    explanation = (
        f"jail {hook.jail} bans in {hook.chain} only{config}, on {hook.port_text()}. "
        f"{hook.chain} is on the forward path; a connection to the host's own {service} "
        "crosses INPUT, where the jail has no rule: its bans "
        f"({hook.addresses()}) still reach the host's service from: {where}.")
    keep = {r.iface: subtract(r.version_ranges.get(version, []), excess.get(r.iface, []))
            for r in exposure.reach}
    port = None if hook.ports is None else sock.port
    fix = Fix(bans.simulated_action(hook, f"{hook.jail}-input", "INPUT", sock.proto, port),
              shown=bans.second_action(hook, f"{hook.jail}-input", "INPUT", sock.proto, port),
              note=f"keep the {hook.chain} action for the containers; the second one bans in "
                   "INPUT, where connections to the host itself pass. Verified by simulating "
                   "the rules fail2ban creates for it, with today's bans" + (
                       f" (its set f2b-{hook.jail}-input gets every ban of the jail: simulated "
                       f"with today's members of {hook.ipset})" if hook.ipset else ""))
    return Finding(ID, SEVERITY, TITLE, _subject(hook, sock), explanation,
                   [rule_ref(hook.rule)], fix, scope=set(),
                   data=(hook, sock, version, excess, keep))


def still_there(ctx: AuditContext, finding: Finding) -> str | None:
    """The socket's exposure on the fixed host: no banned source left, every other kept."""
    hook, sock, version, excess, keep = finding.data
    exposure = next((e for s, e in ctx.sockets if s == sock), None)
    if exposure is None:
        return "the service's socket is gone"
    now = {r.iface: r.version_ranges.get(version, []) for r in exposure.reach}
    for iface, ranges in excess.items():
        left = subtract(ranges, subtract(ranges, now.get(iface, [])))
        if left:
            return f"banned sources still reach it on {iface}"
    for iface, ranges in keep.items():
        if ranges and subtract(merge(ranges), now.get(iface, [])):
            return f"the fix also refuses sources that are not banned on {iface}"
    return None
