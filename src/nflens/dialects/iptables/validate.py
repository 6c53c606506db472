"""What iptables itself refuses in a rule whose words all parse: a match without the option it
needs, an option given twice, options that exclude each other, a target option that needs a
protocol or a hook. iptables-restore refuses the whole table for such a rule, so nflens does too
(`FILE:LINE: what`), instead of reading it as some other rule. The cases are the `;FAIL` lines of
iptables' own extensions/*.t that 1.8.9 refuses (tests/fixtures/toolsuite/fail-iptables.tsv).

`check(rule)` raises ValueError with the reason; the parser turns it into a ParseError.
"""

from __future__ import annotations

from nflens.ir.rules import Action, XtMatch

# match -> the options of which at least one must be given (each extension's x6_fcheck)
REQUIRED = {
    "mark": ("mark",), "connmark": ("mark",), "comment": ("comment",), "icmp": ("icmp-type",),
    "icmp6": ("icmpv6-type",), "iprange": ("src-range", "dst-range"), "length": ("length",),
    "mac": ("mac-source",), "multiport": ("ports", "sports", "dports", "source-ports",
                                          "destination-ports"),
    "ttl": ("ttl-eq", "ttl-lt", "ttl-gt"), "hl": ("hl-eq", "hl-lt", "hl-gt"),
    "addrtype": ("src-type", "dst-type"), "pkttype": ("pkt-type",), "state": ("state",),
    "conntrack": None,  # any one of its options
}
# options of one match of which at most one may be given
EXCLUSIVE = {"ttl": ("ttl-eq", "ttl-lt", "ttl-gt"), "hl": ("hl-eq", "hl-lt", "hl-gt"),
             "addrtype": ("limit-iface-in", "limit-iface-out")}
# addrtype --limit-iface-in/out need an input/output device (libxt_addrtype.c hook masks)
IFACE_HOOKS = {"limit-iface-in": ("prerouting", "input", "forward"),
               "limit-iface-out": ("output", "postrouting", "forward")}
PORT_PROTOS = {"tcp", "udp", "sctp", "dccp", "udplite"}
LOG_LEVELS = {"emerg", "alert", "crit", "error", "err", "warning", "warn", "notice", "info",
              "debug", "panic"} | {str(n) for n in range(8)}


def check(exprs: tuple, hook: str | None) -> None:
    builtin = next((e for e in exprs if isinstance(e, XtMatch) and e.name == "ip"), None)
    proto = next((o for o in builtin.opts if o.name == "proto"), None) if builtin else None
    if proto is not None and proto.negated and str(proto.value) in ("0", "all"):
        raise ValueError("protocol 0 (all) cannot be negated")
    for m in exprs:
        if isinstance(m, XtMatch) and m.name != "ip":
            _match(m, hook)
        if isinstance(m, XtMatch) and m.name in ("tcp", "udp", "sctp") and (
                proto is None or proto.negated or str(proto.value) != m.name):
            raise ValueError(f"match {m.name} needs -p {m.name}")  # xt_tcpudp.c checkentry
    target = exprs[-1] if exprs and isinstance(exprs[-1], Action) else None
    if target is not None:
        _target(target, None if proto is None or proto.negated else str(proto.value))


def _match(m: XtMatch, hook: str | None) -> None:
    given = [o.name for o in m.opts]
    for name in set(given) if m.name in REQUIRED or m.name in ("tcp", "udp", "owner") else ():
        if given.count(name) > 1:  # (policy repeats its options, one element per --next)
            raise ValueError(f"match {m.name}: --{name} given twice")
    if m.name in REQUIRED:
        need = REQUIRED[m.name]
        if not given or need is not None and not set(need) & set(given):
            raise ValueError(f"match {m.name} needs " + (
                "an option" if need is None else "--" + " or --".join(need)))
    both = set(EXCLUSIVE.get(m.name, ())) & set(given)
    if len(both) > 1:
        raise ValueError(f"match {m.name}: --{' and --'.join(sorted(both))} exclude each other")
    for opt, hooks in IFACE_HOOKS.items():
        if m.name == "addrtype" and opt in given and hook is not None and hook not in hooks:
            raise ValueError(f"match addrtype: --{opt} is not allowed in the {hook} hook")
    if m.name == "recent":
        _recent(m, given)
    if m.name == "owner" and "suppl-groups" in given:
        sup = given.index("suppl-groups")
        if "gid-owner" not in given[:sup] or m.opts[sup].negated:
            raise ValueError("match owner: --suppl-groups needs a --gid-owner before it and "
                             "cannot be negated")


RECENT_COMMANDS = ("set", "rcheck", "update", "remove")
# xt_recent.c checkentry refuses hit_count >= XT_RECENT_MAX_NSTAMPS (65536: iptables' .t has
# `--hitcount 65536` as ;FAIL and real dumps carry values above the old 255, e.g. 348)
RECENT_MAX_HITCOUNT = 65535


def _recent(m: XtMatch, given: list[str]) -> None:
    """libxt_recent.c's final check and the kernel's checkentry (its ;FAIL lines)."""
    commands = [c for c in RECENT_COMMANDS if c in given]
    if len(commands) > 1:
        raise ValueError("match recent: only one of --set, --rcheck, --update, --remove")
    if "rttl" in given and commands and commands[0] in ("set", "remove"):  # .excl F_SET|F_REMOVE
        raise ValueError("match recent: --rttl is only valid with --rcheck or --update")
    if "reap" in given and "seconds" not in given:  # .also = F_SECONDS
        raise ValueError("match recent: --reap needs --seconds")
    hits = m.get("hitcount")
    if hits is not None and not 0 <= int(hits.value) <= RECENT_MAX_HITCOUNT:
        raise ValueError(f"match recent: --hitcount {hits.value} is larger than the kernel's "
                         f"maximum ({RECENT_MAX_HITCOUNT})")


def _target(t: Action, proto: str | None) -> None:
    ports = t.get("port") if t.name in ("dnat", "snat", "masquerade", "redirect") else None
    if ports is not None and (proto or "").lower() not in PORT_PROTOS:
        raise ValueError(f"{t.name.upper()} with ports needs -p tcp, udp, sctp, dccp or udplite")
    if t.name == "reject" and t.get("with") == "tcp-reset" and (proto or "").lower() != "tcp":
        raise ValueError("REJECT --reject-with tcp-reset needs -p tcp")
    if t.name == "log" and t.get("log_level") is not None and \
            str(t.get("log_level")).lower() not in LOG_LEVELS:
        raise ValueError(f"LOG --log-level {t.get('log_level')}: not a log level")
