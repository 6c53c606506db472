"""The bans of a host, in the banner's terms: which fail2ban jail (or the CrowdSec bouncer)
hooks into which chain, for which ports, with which banned addresses today.

Read from the rules fail2ban's iptables actions create (managers/fail2ban.py): a jump from a
built-in chain (INPUT, FORWARD) or DOCKER-USER to `f2b-<jail>` with the jail's port match, and
in that chain one `-s ADDR -j REJECT|DROP` per ban; or, for the ipset actions, one rule that
matches the set `f2b-<jail>`, whose members are the bans (read from ipset-save.txt; without
it the bans are unknown and the findings say so). Findings use
this to speak of "jail sshd's bans" instead of anonymous INPUT rules, and to write the rules
fail2ban itself would create after a configuration change (their fixes are simulated with
today's bans; what the admin types is the jail's configuration, never the addresses).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from nflens.analysis.context import AuditContext, action_of, matches_of
from nflens.analysis.fixes import Edit
from nflens.analysis.partition import subtract
from nflens.ir.rules import NftCmp, NftExpr, Rule, Table
from nflens.managers import fail2ban

HOOK_CHAINS = ("INPUT", "FORWARD", "DOCKER-USER")
BLOCKTYPE = "REJECT --reject-with icmp-port-unreachable"  # action.d/iptables.conf's default


@dataclass(frozen=True)
class JailHook:
    """One jail's jump (or ipset rule) in one chain of one family."""

    jail: str
    manager: str  # fail2ban / crowdsec
    family: str
    chain: str
    rule: Rule
    proto: str | None  # None: every protocol
    ports: tuple | None  # multiport ranges ((lo, hi), ...); None: all ports (allports)
    bans: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    banned_in_set: str = ""  # the ipset holding the bans when its members are not known
    config: str = ""  # the jail's `chain` setting, FILE:LINE TEXT
    nft: bool = False  # fail2ban's nftables action (table inet f2b-table, its hook as chain)
    ipset: str = ""  # the ipset holding the bans (ipset actions, the bouncer), known or not
    oneport: bool = False  # `--dport` (iptables-ipset's type oneport), not `-m multiport`
    nft_chain: str = ""  # the nft base chain of an nft hook
    nft_table: str = ""  # and its table, `FAMILY NAME`

    def covers(self, proto: str, port: int) -> bool:
        if self.proto not in (None, proto):
            return False
        return self.ports is None or any(lo <= port <= hi for lo, hi in self.ports)

    def addresses(self) -> str:
        if self.banned_in_set:
            return f"the members of ipset {self.banned_in_set}"
        listed = ", ".join(str(b).removesuffix("/32").removesuffix("/128") for b in self.bans)
        kind = "set" if self.nft else "ipset"
        return f"{listed or 'none today'}, in {kind} {self.ipset}" if self.ipset else listed

    def port_text(self) -> str:
        if self.ports is None:
            return "all ports"
        return ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in self.ports)

    def ranges(self, version: int) -> list[tuple[int, int]]:
        return [(int(b.network_address), int(b.broadcast_address)) for b in self.bans
                if b.version == version]


def _opt(rule: Rule, name: str):
    return next((o.value for m in matches_of(rule) for o in m.opts
                 if o.name == name and not o.negated), None)


def _bans(ctx: AuditContext, family: str, chain_name: str) -> tuple:
    table = next((t for t in ctx.host.ruleset.tables if t.family == family
                  and t.name == "filter" and t.origin.startswith("iptables")), None)
    chain = table.chain(chain_name) if table else None
    out = []
    for r in chain.rules if chain else ():
        act = action_of(r)
        src = _opt(r, "src")
        if act is not None and act.name in ("drop", "reject") and src is not None:
            out.append(src)
    return tuple(out)


def _set_bans(ctx: AuditContext, name: str, family: str) -> tuple | None:
    """The members of ipset `name` (the bans of an ipset action or of the bouncer); None when
    the snapshot has no ipset-save.txt. fail2ban's sets are hash:ip (the bouncer's nethash:
    hash:net), one address dimension; a `nomatch` entry is no ban."""
    sets = ctx.host.ipsets
    found = next((s for s in sets or () if s.name == name), None)
    if found is None:
        return None  # no ipset-save.txt (iptables refuses a rule naming a set that is absent)
    version = 6 if family == "ip6" else 4
    return tuple(e.values[0] for e in found.entries if not e.nomatch and e.values and
                 isinstance(e.values[0], ipaddress.IPv4Network | ipaddress.IPv6Network)
                 and e.values[0].version == version)


def hooks(ctx: AuditContext) -> list[JailHook]:
    """Every jail's hook on this host (both families), in rule order."""
    out = []
    for t in ctx.host.ruleset.tables:
        if t.name != "filter" or not t.origin.startswith("iptables"):
            continue
        for c in t.chains:
            if c.name not in HOOK_CHAINS:
                continue
            for r in c.rules:
                hook = _hook(ctx, t.family, c.name, r)
                if hook is not None:
                    out.append(hook)
    for t in ctx.host.ruleset.tables:
        if t.origin == "nft" and (t.name in fail2ban.F2B_NFT_TABLES
                                  or t.name in ctx.owners.bouncer_tables):
            out += _nft_hooks(ctx, t)
    return out


NFT_HOOKS = {"input": "INPUT", "forward": "FORWARD"}


def _nft_hooks(ctx: AuditContext, table: Table) -> list[JailHook]:
    """fail2ban's nftables action: in a base chain of its table, per jail `tcp dport { PORTS }
    ip saddr @addr-set-<jail> reject`; CrowdSec's bouncer in nftables mode (0.0.25
    nftables.go): `table ip crowdsec`, base chain crowdsec-chain on the input hook (0.0.26 and
    later: crowdsec-chain-<hook> per `nftables_hooks`), `ip saddr @crowdsec-blacklists counter
    drop`. The bans are the set's elements (nft -j lists them, with their timeouts)."""
    sets = {s.name: s for s in table.sets}
    crowdsec = table.name in ctx.owners.bouncer_tables
    out = []
    for c in table.chains:
        chain = NFT_HOOKS.get(c.hook or "")
        for r in c.rules if chain else ():
            cmps = [e for e in r.exprs if isinstance(e, NftCmp) and isinstance(e.left, NftExpr)]
            ref = next((str(e.right)[1:] for e in cmps if str(e.right).startswith("@")
                        and e.left.get("field") == "saddr"), "")
            m = re.match(r"^addr6?-set-(.+)$", ref)
            named = sets.get(ref)
            if not (m or crowdsec) or named is None or chain is None:
                continue
            dport = next((e for e in cmps if e.left.get("field") == "dport"), None)
            family = "ip6" if named.type == "ipv6_addr" else "ip"
            bans = tuple(_element_network(x) for x in named.elements
                         if _element_network(x) is not None)
            name = m.group(1) if m else "crowdsec"
            known = ctx.owners.jails.get(name) if m else None
            owner = ctx.owners.of(r) if crowdsec and not known else None
            config = known.config() if known else (owner.config if owner else "")
            out.append(JailHook(name, "crowdsec" if crowdsec else "fail2ban", family, chain, r,
                                dport.left.get("protocol") if dport else None,
                                _nft_ports(dport.right) if dport else None, bans,
                                config=config, nft=True, ipset=ref if crowdsec else "",
                                nft_chain=c.name, nft_table=f"{table.family} {table.name}"))
    return out


def _element_network(x):
    """A set element as nft -j gives it: an address, `{"elem": {"val": ADDR, "timeout": ..}}`
    (sets with `flags timeout`), or `{"prefix": {"addr": A, "len": N}}`."""
    if isinstance(x, NftExpr) and x.kind == "elem":
        x = x.get("val")
    if isinstance(x, NftExpr) and x.kind == "prefix":
        x = f"{x.get('addr')}/{x.get('len')}"
    try:
        return ipaddress.ip_network(str(x), strict=False) if isinstance(x, str) else None
    except ValueError:
        return None


def _nft_ports(value) -> tuple:
    if isinstance(value, NftExpr):
        value = value.get("elements", ())
    values = value if isinstance(value, (tuple, list)) else (value,)
    return tuple((v, v) if isinstance(v, int) else tuple(v) for v in values)


def _hook(ctx: AuditContext, family: str, chain: str, rule: Rule) -> JailHook | None:
    owner = ctx.owners.of(rule)
    if owner is None or owner.kind not in ("fail2ban", "crowdsec"):
        return None
    act = action_of(rule)
    target = dict(act.opts).get("chain", "") if act is not None and act.name in (
        "jump", "goto") else ""
    matched = _opt(rule, "match-set")
    set_name = matched[0] if matched else ""
    jail = fail2ban.jail_of_chain(target) or fail2ban.jail_of_chain(set_name, family)
    if owner.kind == "crowdsec":
        jail = "crowdsec"
    elif jail is None:
        return None
    proto = _opt(rule, "proto")
    oneport = _opt(rule, "dports") is None and _opt(rule, "dport") is not None
    ports = _opt(rule, "dports") or _opt(rule, "dport")
    if isinstance(ports, int):
        ports = ((ports, ports),)
    elif ports is not None and not isinstance(ports[0], tuple):
        ports = (tuple(ports),)
    known = ctx.owners.jails.get(jail)
    members = _set_bans(ctx, set_name, family) if set_name else None
    banned = members or (_bans(ctx, family, target) if target and not set_name else ())
    return JailHook(jail, owner.kind, family, chain, rule, proto, ports, banned,
                    set_name if set_name and members is None else "",
                    known.config() if known else owner.config, ipset=set_name,
                    oneport=oneport)


def banned_reach(hook: JailHook, version: int, reach) -> dict[str, list[tuple[int, int]]]:
    """Per ingress interface, the banned addresses a reach (exposure) still admits."""
    bans = hook.ranges(version)
    out = {}
    for r in reach:
        have = r.version_ranges.get(version, [])
        inside = subtract(have, subtract(have, bans))
        if inside:
            out[r.iface] = inside
    return out


def blocktype(hook: JailHook) -> str:
    """The target of the hook's own rule (an ipset action's `-j <blocktype>`), else
    action.d/iptables.conf's default blocktype for the family."""
    text = hook.rule.text
    if hook.ipset and " -j " in text:
        return text.split(" -j ", 1)[1]
    return BLOCKTYPE if hook.family == "ip" else "REJECT --reject-with icmp6-port-unreachable"


def jail_rule(hook: JailHook, proto: str, port: str | int | None, target: str) -> str:
    """The rule fail2ban's action puts in the chain (action.d/iptables.conf `_chain_rule` of
    the hook's type, then `rule-jump`): `-p P -m multiport --dports PORTS` (multiport),
    `-p P --dport PORT` (oneport), `-p P` (allports); then `-j f2b-<name>`, or for the ipset
    actions `-m set --match-set <set> src -j <blocktype>`. `target`: the chain or the set."""
    if port is None:
        match = f"-p {proto}"
    elif hook.oneport:
        match = f"-p {proto} -m {proto} --dport {port}"
    else:
        match = f"-p {proto} -m multiport --dports {port}"
    if hook.ipset:
        return f"{match} -m set --match-set {target} src -j {blocktype(hook)}"
    return f"{match} -j {target}"


def simulated_action(hook: JailHook, name: str, chain: str, proto: str, port: int | None
                     ) -> list[Edit]:
    """The rules fail2ban's action (the hook's kind: multiport, oneport, or allports without
    a port) creates for a second action `name` in `chain`, holding today's bans: what the jail
    would look like after the fix, so that it can be simulated. An ipset action's second
    action makes a set of its own (f2b-<name>) that fail2ban fills with the same bans (each
    ban goes to every action of the jail); it is simulated with the jail's set, which holds
    exactly those members."""
    if hook.ipset:
        return [Edit(hook.family, "filter", chain, 1, jail_rule(hook, proto, port, hook.ipset))]
    f2b = f"f2b-{name}"
    edits = [Edit(hook.family, "filter", f2b, 0, f"-s {b} -j {blocktype(hook)}")
             for b in hook.bans]
    edits.append(Edit(hook.family, "filter", f2b, 0, "-j RETURN"))
    edits.append(Edit(hook.family, "filter", chain, 1, jail_rule(hook, proto, port, f2b)))
    return edits


def bouncer_action(hook: JailHook, chain: str) -> list[Edit]:
    """What the bouncer (iptables mode, 0.0.25 iptables.go) does for each chain of
    `iptables_chains`: `-I <chain> -m set --match-set <set> src -j <deny_action>`, the very
    rule it put in INPUT."""
    text = hook.rule.text
    spec = text.split(" ", 2)[2] if text.startswith("-A ") else text
    return [Edit(hook.family, "filter", chain, 1, spec)]


def jail_file(jail: str, name: str) -> str:
    """Where an override goes and how fail2ban takes it: a file of its own in jail.d/ (read
    after jail.local, so it overrides the jail wherever it is defined; a second [jail] section
    in jail.local itself is refused: "section already exists"), then a restart of the jail,
    which brings its bans back from fail2ban's database into every action (a plain reload
    does not give the current bans to a new action: fail2ban 1.1.0 in the lab)."""
    return (f"# /etc/fail2ban/jail.d/{name}.local, then `fail2ban-client reload --restart "
            f"{jail}`\n[{jail}]\n")


def second_action(hook: JailHook, name: str, chain: str, proto: str, port: int | None) -> str:
    """The jail override adding one action of the jail's banaction in another chain: every
    ban of the jail then goes to both (fail2ban runs each action of a jail per ban; `actname`
    keeps the two actions of one banaction apart)."""
    if hook.nft:  # its own base chain: another name, and the forward hook for DOCKER-USER
        hook_name = "forward" if chain == "DOCKER-USER" else chain.lower()
        args = (f"name={name}, actname={name}, chain=f2b-{hook_name}, chain_hook={hook_name}, "
                f"protocol={proto}")
        if port is not None:
            args += f', port="{port}"'
        return jail_file(hook.jail, name) + f"action = %(action_)s\n         %(banaction)s[{args}]"
    if hook.manager == "crowdsec":
        return ("# /etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml, then restart "
                "crowdsec-firewall-bouncer\niptables_chains:\n  - INPUT\n  - DOCKER-USER")
    args = f"name={name}, actname={name}, chain={chain}, protocol={proto}"
    if port is not None:
        args += f', port="{port}"'
    return jail_file(hook.jail, name) + f"action = %(action_)s\n         %(banaction)s[{args}]"


BOUNCER_YAML = "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
BOUNCER_TABLE_FILE = "/etc/crowdsec/crowdsec-table.nft"
BOUNCER_DROPIN = "/etc/systemd/system/crowdsec-firewall-bouncer.service.d/table.conf"


def bouncer_nft_fix(hook: JailHook) -> str:
    """The bouncer's own fix for nftables mode, by its version as its chain names show it:
    0.0.26 and later name a chain per hook (`crowdsec-chain-input`, pkg/nftables) and take
    `nftables_hooks`; 0.0.25 and older make one chain on the input hook only (nftables.go:
    ChainHookInput, no option), so the way left in its terms is `set-only: true` (it then
    only fills the set) with a table of the admin's own holding that set and hooking input and
    forward, loaded before the bouncer starts (its own table is deleted when it stops, a
    set-only one is only flushed). The file deletes and re-creates the table, so that a restart
    of the service does not add its rules twice."""
    verdict = "reject" if "reject" in hook.rule.text else "drop"
    if hook.nft_chain.endswith("-input"):
        return (f"# {BOUNCER_YAML}, then `systemctl restart crowdsec-firewall-bouncer`\n"
                "nftables_hooks:\n  - input\n  - forward")
    family, table = hook.nft_table.split(" ", 1)
    kind = "ipv6_addr" if hook.family == "ip6" else "ipv4_addr"
    chain = hook.nft_chain
    rule = f"{family} saddr @{hook.ipset} {verdict}"
    return "\n".join((
        "# crowdsec-firewall-bouncer 0.0.25 hooks input only (no nftables_hooks before "
        "0.0.26): it fills the set, a table of yours hooks input and forward",
        f"# {BOUNCER_YAML}: under nftables.{'ipv6' if family == 'ip6' else 'ipv4'}",
        "    set-only: true",
        f"# {BOUNCER_TABLE_FILE}",
        f"table {family} {table}", f"delete table {family} {table}",
        f"table {family} {table} {{",
        f"  set {hook.ipset} {{ type {kind}; flags timeout; }}",
        f"  chain {chain} {{ type filter hook input priority filter; policy accept; {rule}; }}",
        f"  chain {chain}-forward {{ type filter hook forward priority filter; policy accept; "
        f"{rule}; }}",
        "}",
        f"# {BOUNCER_DROPIN}, then `systemctl daemon-reload && systemctl restart "
        "crowdsec-firewall-bouncer`",
        "[Service]", f"ExecStartPre=/usr/sbin/nft -f {BOUNCER_TABLE_FILE}"))


def forward_drop(hook: JailHook) -> list[Edit]:
    """The bans dropped on the forward path, as DOCKER-USER rules: how a fix that adds a
    forward-hook chain with `saddr @set drop` is simulated (a drop in any base chain of a hook
    is final, whatever its priority; nothing in FORWARD precedes Docker's jump to
    DOCKER-USER), with today's members of the set."""
    verdict = "REJECT" if "reject" in hook.rule.text else "DROP"
    return [Edit(hook.family, "filter", "DOCKER-USER", 1, f"-s {b} -j {verdict}")
            for b in hook.bans]


def hook_of(ctx: AuditContext, family: str, chain: str, rule: Rule) -> JailHook | None:
    """The jail hook a rule is, if fail2ban or the bouncer made it."""
    return _hook(ctx, family, chain, rule)


def port_fix(hook: JailHook, pos: int, published) -> tuple[str, Edit, Edit] | None:
    """A jail in DOCKER-USER on published *host* ports: the jail's `port =` with each host
    port replaced by its container port (what FORWARD sees after DNAT), as the jail.local
    override, and the rule fail2ban then creates at the same place."""
    if hook.ports is None or hook.manager != "fail2ban":
        return None
    ports = []
    for lo, hi in hook.ports:
        if lo != hi:
            ports.append(f"{lo}:{hi}")
            continue
        to = next((p.binding.container_port for p in published if p.binding.host_port == lo
                   and p.family == hook.family), lo)
        ports.append(str(to))
    port = ",".join(dict.fromkeys(ports))
    proto = hook.proto or "tcp"
    shown = jail_file(hook.jail, f"{hook.jail}-port") + f"port = {port}"
    spec = jail_rule(hook, proto, port, hook.ipset or f"f2b-{hook.jail}")
    return (shown, Edit(hook.family, "filter", hook.chain, pos, None),
            Edit(hook.family, "filter", hook.chain, pos, spec))
