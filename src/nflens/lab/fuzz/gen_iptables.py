"""Random iptables-restore input drawn from the grammar the simulator models.

The draws aim at the places where models of netfilter usually go wrong: chain policies vs
RETURN from a user chain, goto vs jump, first-match order across tables, NAT seen only by the
first packet, DNAT rewriting the port a FORWARD rule looks at (--dport vs --ctorigdstport),
conntrack state of replies, REJECT variants, marks set in mangle and read in filter, NOTRACK
in raw. Every value comes from the fuzzing world (world.py) so that matches actually hit.
"""

from __future__ import annotations

import random

from nflens.lab.fuzz.world import CLOSED_PORT, SERVICE_PORTS, addresses, subnet

ALL_PORTS = SERVICE_PORTS + (CLOSED_PORT,)
STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")
VIRTUAL_STATES = ("DNAT", "SNAT")  # --ctstate only, derived from the entry's NAT
STATUS_BITS = ("SEEN_REPLY", "CONFIRMED", "ASSURED")


class Draw:
    """One family's vocabulary of addresses, ports and interfaces, over a seeded RNG."""

    def __init__(self, rng: random.Random, version: int):
        self.rng = rng
        self.v = version
        self.hosts = addresses("a", version) + addresses("b", version) + \
            addresses("r", version)
        self.nets = [subnet("a", version), subnet("b", version),
                     "0.0.0.0/0" if version == 4 else "::/0"]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def addr(self) -> str:
        return self.pick(self.hosts) if self.chance(0.7) else self.pick(self.nets)

    def host(self, side: str) -> str:
        return self.pick(addresses(side, self.v))

    def port(self) -> int:
        return self.pick(ALL_PORTS)

    def port_expr(self) -> str:
        if self.chance(0.2):
            lo = self.pick(ALL_PORTS)
            return f"{lo}:{min(65535, lo + self.rng.randint(0, 9000))}"
        return str(self.port())

    def sport_expr(self) -> str:
        lo = self.rng.randint(1024, 60000)
        if self.chance(0.7):
            return f"{lo}:{min(65535, lo + self.rng.randint(0, 20000))}"
        return str(lo)

    def iface(self) -> str:
        return self.pick(("ra", "rb", "r+", "lo"))

    def neg(self, p: float = 0.2) -> str:
        return "! " if self.chance(p) else ""


def _proto_part(d: Draw, parts: list[str]) -> str | None:
    """-p tcp|udp with optional port matches; returns the protocol (or None)."""
    if not d.chance(0.6):
        return None
    proto = d.pick(("tcp", "udp"))
    parts.append(f"-p {proto}")
    if d.chance(0.6):
        parts.append(f"-m {proto} {d.neg(0.15)}--dport {d.port_expr()}")
    elif d.chance(0.3):
        ports = sorted({d.port() for _ in range(d.rng.randint(2, 4))})
        parts.append(f"-m multiport {d.neg(0.1)}--dports {','.join(map(str, ports))}")
    if d.chance(0.15):
        parts.append(f"-m {proto} {d.neg(0.1)}--sport {d.sport_expr()}")
    return proto


def _conntrack_part(d: Draw, parts: list[str], proto: str | None) -> None:
    r = d.rng.random()
    if r < 0.35:
        states = sorted({d.pick(STATES) for _ in range(d.rng.randint(1, 2))})
        kind = d.pick(("-m conntrack --ctstate", "-m state --state"))
        parts.append(f"{kind} {','.join(states)}")
    elif r < 0.45:
        parts.append(f"-m conntrack {d.neg(0.2)}--ctorigdst {d.addr()}")
    elif r < 0.55 and proto:
        parts.append(f"-m conntrack --ctorigdstport {d.port()}")
    elif r < 0.6:
        if d.chance(0.5):
            parts.append(f"-m conntrack {d.neg(0.2)}--ctstate {d.pick(VIRTUAL_STATES)}")
        else:
            parts.append(f"-m conntrack {d.neg(0.2)}--ctstatus {d.pick(STATUS_BITS)}")
    elif r < 0.65:
        parts.append(f"-m conntrack --ctdir {d.pick(('ORIGINAL', 'REPLY'))}")


def matches(d: Draw, table: str, chain: str) -> tuple[str, str | None]:
    """A random conjunction of matches (empty matches everything), and its -p protocol."""
    parts: list[str] = []
    for flag in ("-s", "-d"):
        if d.chance(0.35):
            addr = d.addr()
            # iptables-nft cannot express a negated /0 (the kernel refuses the rule)
            parts.append(f"{d.neg() if not addr.endswith('/0') else ''}{flag} {addr}")
    if chain not in ("OUTPUT", "POSTROUTING") and d.chance(0.3):
        parts.append(f"{d.neg()}-i {d.iface()}")
    if chain not in ("INPUT", "PREROUTING") and d.chance(0.25):
        parts.append(f"{d.neg()}-o {d.iface()}")
    proto = _proto_part(d, parts)
    if table != "raw" and d.chance(0.35):
        _conntrack_part(d, parts, proto)
    if d.chance(0.1):
        parts.append(f"-m addrtype {d.neg(0.2)}--dst-type {d.pick(('LOCAL', 'UNICAST'))}")
    if d.chance(0.1) and table in ("filter", "nat"):
        parts.append(f"-m mark {d.neg(0.2)}--mark 0x{d.rng.randint(1, 3):x}")
    if d.chance(0.05):
        parts.append(f'-m comment --comment "fuzz {d.rng.randint(0, 99)}"')
    return " ".join(parts), proto


def _filter_target(d: Draw, users: list[str], version: int, proto: str | None) -> str:
    r = d.rng.random()
    if users and r < 0.2:
        return f"-{d.pick('jg')} {d.pick(users)}"
    if r < 0.45:
        return "-j ACCEPT"
    if r < 0.7:
        return "-j DROP"
    if r < 0.8:
        kinds: tuple[str, ...] = (
            ("icmp-port-unreachable", "icmp-host-prohibited") if version == 4
            else ("icmp6-port-unreachable", "icmp6-adm-prohibited"))
        kinds += ("tcp-reset",) * 2 if proto == "tcp" else ()  # iptables refuses it otherwise
        return f"-j REJECT --reject-with {d.pick(kinds)}"
    if r < 0.88:
        return "-j RETURN"
    if r < 0.94:
        return f"-j MARK --set-xmark 0x{d.rng.randint(1, 3):x}/0xffffffff"
    return '-j LOG --log-prefix "fuzz "'


def _nat_target(d: Draw, chain: str, proto: str | None) -> str:
    if chain in ("PREROUTING", "OUTPUT"):
        r = d.rng.random()
        dest = d.host("b")
        if d.v == 6:
            dest = f"[{dest}]"
        if proto and r < 0.45:
            return f"-j DNAT --to-destination {dest}:{d.pick(SERVICE_PORTS)}"
        if r < 0.6:
            return f"-j DNAT --to-destination {d.host('b')}"
        if proto and r < 0.75:
            return f"-j REDIRECT --to-ports {d.pick(ALL_PORTS)}"
        return d.pick(("-j RETURN", "-j ACCEPT"))
    r = d.rng.random()
    if r < 0.4:
        return "-j MASQUERADE"
    if r < 0.7:
        return f"-j SNAT --to-source {d.pick(addresses('r', d.v))}"
    return d.pick(("-j RETURN", "-j ACCEPT"))


def _nat_rule(d: Draw, chain: str) -> str:
    parts: list[str] = []
    if d.chance(0.5):
        addr = d.addr()
        parts.append(f"{d.neg(0.1) if not addr.endswith('/0') else ''}-s {addr}")
    if chain != "POSTROUTING" and d.chance(0.6):
        parts.append(f"-d {d.pick(addresses('r', d.v))}")
    if chain == "PREROUTING" and d.chance(0.3):
        parts.append(f"-i {d.pick(('ra', 'rb'))}")
    if chain == "POSTROUTING" and d.chance(0.5):
        parts.append(f"{d.neg(0.1)}-o {d.pick(('ra', 'rb'))}")
    proto = None
    if d.chance(0.75):
        proto = d.pick(("tcp", "udp"))
        parts.append(f"-p {proto}")
        if d.chance(0.7):
            parts.append(f"-m {proto} --dport {d.port()}")
    return " ".join(parts + [_nat_target(d, chain, proto)])


TABLE_CHAINS = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}


def _filter_rule(d: Draw, chain: str, like: str, users: list[str]) -> str:
    """A user chain draws its matches as FORWARD would (it may be called from anywhere)."""
    text, proto = matches(d, "filter", like)
    return " ".join(x for x in (f"-A {chain}", text, _filter_target(d, users, d.v, proto)) if x)


def _filter_table(d: Draw, lines: list[str]) -> None:
    users = [f"U{i}" for i in range(d.rng.randint(0, 3))]
    lines.append("*filter")
    for chain in TABLE_CHAINS["filter"]:
        policy = "DROP" if d.chance(0.3) else "ACCEPT"
        lines.append(f":{chain} {policy} [0:0]")
    for u in users:
        lines.append(f":{u} - [0:0]")
    for chain in TABLE_CHAINS["filter"]:
        for _ in range(d.rng.randint(0, 6)):
            lines.append(_filter_rule(d, chain, chain, users))
    for i, u in enumerate(users):
        later = users[i + 1:]  # no loops: a user chain only calls chains defined after it
        for _ in range(d.rng.randint(0, 4)):
            lines.append(_filter_rule(d, u, "FORWARD", later))
    lines.append("COMMIT")


def _nat_table(d: Draw, lines: list[str]) -> None:
    lines.append("*nat")
    for chain in TABLE_CHAINS["nat"]:
        lines.append(f":{chain} ACCEPT [0:0]")
    for chain in ("PREROUTING", "OUTPUT", "POSTROUTING"):
        for _ in range(d.rng.randint(0, 2 if chain != "OUTPUT" else 1)):
            lines.append(f"-A {chain} {_nat_rule(d, chain)}")
    lines.append("COMMIT")


def _mangle_table(d: Draw, lines: list[str]) -> None:
    lines.append("*mangle")
    for chain in TABLE_CHAINS["mangle"]:
        lines.append(f":{chain} ACCEPT [0:0]")
    for _ in range(d.rng.randint(1, 2)):
        chain = d.pick(("PREROUTING", "FORWARD", "OUTPUT"))
        target = (f"-j MARK --set-xmark 0x{d.rng.randint(1, 3):x}/0xffffffff" if d.chance(0.8)
                  else "-j DROP")
        text, _ = matches(d, "mangle", chain)
        lines.append(" ".join(x for x in (f"-A {chain}", text, target) if x))
    lines.append("COMMIT")


def _raw_table(d: Draw, lines: list[str]) -> None:
    lines.append("*raw")
    for chain in TABLE_CHAINS["raw"]:
        lines.append(f":{chain} ACCEPT [0:0]")
    proto = d.pick(("tcp", "udp"))
    chain = d.pick(TABLE_CHAINS["raw"])
    lines.append(f"-A {chain} -p {proto} -m {proto} --dport {d.port()} -j CT --notrack")
    lines.append("COMMIT")


def ruleset(rng: random.Random, version: int) -> str:
    """One iptables-restore (version 4) or ip6tables-restore (6) input."""
    d = Draw(rng, version)
    lines = [f"# nflens fuzz, IPv{version}"]
    if d.chance(0.15):
        _raw_table(d, lines)
    if d.chance(0.25):
        _mangle_table(d, lines)
    if d.chance(0.5):
        _nat_table(d, lines)
    _filter_table(d, lines)
    return "\n".join(lines) + "\n"
