"""A forward-path rule on a published *host* port or address that DNAT has already rewritten
(seed 004): FORWARD sees the container's address and port, so `-A DOCKER-USER -p tcp --dport
8080` for a port published as 8080->80 never matches a connection to it, and neither does
`-d <host address>`. The fix rewrites the rule with conntrack's original-destination matches,
which DNAT does not change (`--ctorigdstport`, `--ctorigdst`, with `--ctdir ORIGINAL` so the
replies are not caught by it)."""

from __future__ import annotations

import re

from nflens.analysis import bans
from nflens.analysis.context import AuditContext, action_of, matches_of, rule_ref
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import FORWARD_CHAIN, Fix, iptables_table
from nflens.analysis.intent import at, delete
from nflens.analysis.portrules import _in, port_values

ID = "dnat-dead-rule"
SEVERITY = "high"
TITLE = "Forward rule on a host port or address that DNAT already rewrote: it never matches"


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for family in ("ip", "ip6"):
        table = iptables_table(ctx.host, family)
        chain = table.chain("DOCKER-USER") if table else None
        if chain is None:
            continue
        published = [p for p in ctx.published if p.family == family]
        local = {a.ip for i in ctx.host.interfaces for a in i.addresses}
        for pos, rule in enumerate(chain.rules, 1):
            why = _dead(rule, published, local)
            if why:
                act = action_of(rule)
                severity = SEVERITY if act and act.name in ("drop", "reject") else "low"
                jail = bans.hook_of(ctx, family, "DOCKER-USER", rule)
                if jail is not None:  # a jail's jump: its bans never apply
                    out.append(_jail_finding(family, pos, rule, jail, why, published))
                    continue
                out.append(Finding(ID, severity, TITLE,
                                   f"{family} DOCKER-USER {rule_ref(rule)['text']}",
                                   why + ("" if severity == SEVERITY else
                                          " It allows nothing it was meant to allow."),
                                   [rule_ref(rule)], _fix(family, pos, rule)))
    return out


def _jail_finding(family: str, pos: int, rule, jail: bans.JailHook, why: str,
                  published) -> Finding:
    """The same dead port, in the jail's terms: its bans never apply to the published port."""
    config = f" ({jail.config})" if jail.config else ""
    native = bans.port_fix(jail, pos, published)
    fix = Fix(note="set the jail's port to the container's port (what FORWARD sees after "
                   "DNAT)") if native is None else Fix(list(native[1:]), shown=native[0])
    return Finding(ID, SEVERITY, TITLE, f"{family} DOCKER-USER {rule_ref(rule)['text']}",
                   f"jail {jail.jail}'s bans ({jail.addresses()}) never match{config}: " + why,
                   [rule_ref(rule)], fix)


def _dead(rule, published, local) -> str | None:
    dports = port_values(rule, ("dport", "destination-port", "dports"))
    for p in published:
        b = p.binding
        if dports and any(_in(b.host_port, v) for v in dports) and \
                not any(_in(b.container_port, v) for v in dports) and b.host_port != \
                b.container_port:
            return (f"The rule matches destination port {b.host_port}, the port published for "
                    f"{p.name}. DNAT in PREROUTING has rewritten it to {p.container_addr()}:"
                    f"{b.container_port} before FORWARD, so the rule never matches those "
                    "connections (and it would match any container's own port "
                    f"{b.host_port} instead).")
    for m in matches_of(rule):
        for o in m.opts:
            if o.name == "dst" and not o.negated and any(
                    o.value.num_addresses == 1 and o.value.network_address == a for a in local):
                return (f"The rule matches destination {o.value}, an address of this host. "
                        "A packet for the host itself goes to INPUT, never FORWARD, and a "
                        "connection to a published port reaches FORWARD with the container's "
                        "address after DNAT: the rule matches nothing.")
    return None


def _fix(family: str, pos: int, rule) -> Fix:
    text = rule.source.text if rule.source else ""
    spec = re.sub(r"^-A \S+ ", "", text)
    new = re.sub(r"-m (tcp|udp) --dport (\d+)", r"-m conntrack --ctorigdstport \2 --ctdir ORIGINAL",
                 spec)
    new = re.sub(r"-d (\S+?)(/32|/128)?(?=\s)", r"-m conntrack --ctorigdst \1", new)
    if new == spec:
        return Fix(note="rewrite the rule to match the original destination with -m conntrack "
                        "--ctorigdst/--ctorigdstport")
    return Fix(rules=[delete(family, "filter", FORWARD_CHAIN, pos),
                      at(family, "filter", FORWARD_CHAIN, pos, text=new)])
