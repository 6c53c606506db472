"""Shadowed and redundant rules in the admin's chains.

Rule j is shadowed by an earlier rule i when every packet j matches, i matches too, and i
ends the chain's decision for it (ACCEPT, DROP, REJECT, RETURN): j can never decide anything.
With the same verdict it is merely redundant; with another verdict it is a mistake (the admin
meant j to apply). The implication is proved per option (prefixes contain prefixes, port
ranges contain ranges, state sets contain state sets, `eth+` covers `eth0`); a rule with an
option the proof does not know is never called shadowed — no guessing. Docker's generated
chains are left out.

Why this is not derived from the match modules' `constrain` (issue 17.3): `constrain` is
symbolic only in the source and destination addresses (kernel/matches/_xt_util.constrain_opts);
every other option (ports, interfaces, conntrack state, multiport) is decided by `evaluate`
against one fixed packet context — the service matrix asks one (proto, sport, dport) at a time,
state NEW. Implication between rules needs containment over all values of those options
(`--dport 1:1000` covers `--dport 80`, `eth+` covers `eth0`, `ESTABLISHED,RELATED` covers
`ESTABLISHED`), which a Region cannot state. What the two share is the meaning of each
comparison, and `_covers` keeps to the kernel's: a prefix is its address interval, `eth+` is
every name starting with `eth` (_xt_util.iface_match), port ranges
are inclusive (xt_tcpudp.c port_match), a state set is the bits of XT_CONNTRACK_STATE. Once
Region has port, interface and state axes, `implies(j, i)` is `constrain(j) <= constrain(i)`
and `_covers` goes.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from nflens.analysis.context import DOCKER_CHAINS, AuditContext, action_of, rule_ref
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.analysis.intent import delete
from nflens.ir.rules import Rule, XtMatch

ID = "shadowed-rule"
SEVERITY = "low"
TITLE = "Rule that can never match first (shadowed or redundant)"
TERMINAL = {"accept", "drop", "reject", "return"}
MAX_RULES = 2000


class _Net(NamedTuple):
    """A prefix as its address interval (what containment of prefixes compares), in integers:
    the shadow proof compares every pair of rules of a chain (a chain of 400 `-d ADDR/32`
    rules, as Docker 28's raw drops, is 80 000 comparisons)."""

    version: int
    lo: int
    hi: int


def _value(value):
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return _Net(value.version, int(value.network_address), int(value.broadcast_address))
    return value


def _opts(rule: Rule) -> dict | None:
    """(match, option) -> (value, negated); None when the rule has something unprovable."""
    out = {}
    for e in rule.exprs:
        if isinstance(e, XtMatch):
            if e.name == "comment":
                continue
            if e.name not in ("ip", "tcp", "udp", "conntrack", "state", "multiport"):
                return None
            for o in e.opts:
                out[(e.name if e.name != "state" else "conntrack",
                     o.name if o.name != "state" else "ctstate")] = (_value(o.value), o.negated)
        elif action_of(rule) is not e and type(e).__name__ != "Action":
            return None
    return out


def _covers(key, general, specific) -> bool:
    (gv, gneg), (sv, sneg) = general, specific
    if gneg or sneg:
        return gneg == sneg and gv == sv
    name = key[1]
    if isinstance(gv, _Net):
        return isinstance(sv, _Net) and sv.version == gv.version and gv.lo <= sv.lo and \
            sv.hi <= gv.hi
    if name in ("in", "out"):
        return gv == sv or (gv.endswith("+") and sv.startswith(gv[:-1]))
    if name in ("dport", "sport", "destination-port", "source-port"):
        return gv[0] <= sv[0] and sv[1] <= gv[1]
    if name in ("dports", "sports"):
        return all(any(g[0] <= s[0] and s[1] <= g[1] for g in gv) for s in sv)
    if name == "ctstate":
        return set(sv) <= set(gv)
    return gv == sv


def implies(specific: dict, general: dict) -> bool:
    """Every packet matching `specific` matches `general`."""
    return all(k in specific and _covers(k, v, specific[k]) for k, v in general.items())


def detect(ctx: AuditContext) -> list[Finding]:
    out = []
    for t in ctx.host.ruleset.tables:
        if not t.origin.startswith("iptables"):
            continue
        for c in t.chains:
            if c.name in DOCKER_CHAINS or len(c.rules) > MAX_RULES:
                continue
            out += _chain(t, c)
    return out


def _chain(table, chain) -> list[Finding]:
    out = []
    seen: list[tuple[int, Rule, dict, str]] = []
    for j, rule in enumerate(chain.rules, 1):
        act = action_of(rule)
        opts = _opts(rule)
        if opts is None or act is None:
            continue
        if chain.name == "DOCKER-USER" and rule.text == "-A DOCKER-USER -j RETURN":
            continue  # Docker's own closing rule, there on purpose
        for i, earlier, eopts, eact in seen:
            if implies(opts, eopts):
                same = eact == act.name
                what = "redundant" if same else "shadowed"
                out.append(Finding(
                    ID, "low" if same else "medium", TITLE,
                    f"{table.family} {table.name} {chain.name} {rule.text}",
                    f"{chain.name} rule #{j} `{rule.text}` is {what}: rule #{i} `{earlier.text}` "
                    f"matches every packet it matches and already decides "
                    f"({eact.upper()})" + ("." if same else f", so its {act.name.upper()} "
                                           "never happens."),
                    [rule_ref(earlier), rule_ref(rule)],
                    Fix(rules=[delete(table.family, table.name, chain.name, j)]) if same else
                    Fix(note=f"move rule #{j} above rule #{i}, or narrow rule #{i}")))
                break
        if act.name in TERMINAL:
            seen.append((j, rule, opts, act.name))
    return out
