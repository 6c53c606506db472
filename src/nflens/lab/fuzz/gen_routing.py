"""Random policy routing for the fuzzing router: `ip rule`s with their selectors, extra tables
with blackhole / unreachable / prohibit / throw routes, rp_filter and src_valid_mark.

Drawn from its own RNG stream (seeded from the case's seed and index), so the cases the other
generators draw stay what they were. IPv4 only: the snapshot reads `ip -j rule show`, which
lists the IPv4 rules. Kept out of the draw, because the fuzzing world cannot answer them the
way the simulator would: routes that send a client's subnet out of the wrong interface (the
client drops what is not for it, the simulator assumes a peer outside answers) and
`uidrange` (the router's own probes run as a user the snapshot does not show: nflens rightly
says uncertain, and the fuzzer compares verdicts exactly). The marks the rules select are the
ones the iptables and nft generators set (1-3), in mangle OUTPUT and PREROUTING among others,
so a mark re-routing a local packet (ip_route_me_harder) is exercised.
"""

from __future__ import annotations

import random

from nflens.lab.fuzz.world import SERVICE_PORTS, addresses, subnet

TABLES = ("100", "101")
ERRORS = ("blackhole", "unreachable", "prohibit")
RP_KEYS = ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.ra.rp_filter",
           "net.ipv4.conf.rb.rp_filter", "net.ipv4.conf.all.src_valid_mark")
# what `undo` leaves: the kernel's three rules, empty extra tables, the sysctls at 0
UNDO: list[list[str]] = (
    [["ip", "rule", "flush"],
     ["ip", "rule", "add", "pref", "32766", "table", "main"],
     ["ip", "rule", "add", "pref", "32767", "table", "default"]]
    + [["ip", "route", "flush", "table", t] for t in TABLES]
    + [["sysctl", "-qw", f"{k}=0"] for k in RP_KEYS])


def draw(seed: int, index: int, version: int) -> list[list[str]]:
    """The commands that set one case's routing up in the router (empty: none drawn)."""
    rng = random.Random(f"nflens-fuzz-routing:{seed}:{index}")
    if version != 4 or rng.random() < 0.5:
        return []
    out = [_table_route(rng, t) for t in TABLES for _ in range(rng.randint(1, 2))]
    prefs = sorted(rng.sample(range(100, 400, 10), rng.randint(1, 4)))
    out += [_rule(rng, pref) for pref in prefs]
    rp = rng.choice(("0", "0", "1", "2"))
    out += [["sysctl", "-qw", f"{k}={rp}"] for k in RP_KEYS[:3]]
    out.append(["sysctl", "-qw", f"{RP_KEYS[3]}={rng.choice('01')}"])
    return out


def _table_route(rng: random.Random, table: str) -> list[str]:
    """An error route for a prefix, or the right way to a client subnet, or a throw."""
    kind = rng.choice(ERRORS + ("right", "throw"))
    if kind == "right":
        side = rng.choice("ab")
        return ["ip", "route", "replace", subnet(side, 4), "dev", "ra" if side == "a" else "rb",
                "table", table]
    dst = rng.choice(["default", subnet("a", 4), subnet("b", 4)] + [
        f"{a}/32" for a in addresses("a", 4) + addresses("b", 4)])
    return ["ip", "route", "replace", kind, dst, "table", table]


def _rule(rng: random.Random, pref: int) -> list[str]:
    argv = ["ip", "rule", "add", "pref", str(pref)]
    if rng.random() < 0.15:
        argv.append("not")
    argv += _selectors(rng)
    action = rng.random()
    if action < 0.2:
        argv.append(rng.choice(ERRORS))
    elif action < 0.35:
        argv += ["table", "main", "suppress_prefixlength", rng.choice(("0", "24", "31"))]
    else:
        argv += ["table", rng.choice(TABLES + ("main",))]
    return argv


def _selectors(rng: random.Random) -> list[str]:
    """One to three of: from, to, iif, fwmark[/mask], ipproto, dport/sport ranges."""
    hosts = addresses("a", 4) + addresses("b", 4) + addresses("r", 4)
    pool = {
        "from": lambda: ["from", rng.choice(hosts + [subnet("a", 4), subnet("b", 4)])],
        "to": lambda: ["to", rng.choice(hosts + [subnet("a", 4), subnet("b", 4)])],
        "iif": lambda: ["iif", rng.choice(("ra", "rb", "lo"))],
        "fwmark": lambda: ["fwmark", rng.choice(("1", "2", "3", "0x1/0x1", "0x2/0x3"))],
        "ipproto": lambda: ["ipproto", rng.choice(("tcp", "udp"))],
        "dport": lambda: ["dport", _port_range(rng, SERVICE_PORTS)],
        "sport": lambda: ["sport", rng.choice(("20000-39999", "40000-59999", "22", "80-443"))],
    }
    names = rng.sample(sorted(pool), rng.randint(1, 3))
    return [word for name in names for word in pool[name]()]


def _port_range(rng: random.Random, ports: tuple[int, ...]) -> str:
    low = rng.choice(ports)
    high = rng.choice([p for p in ports if p >= low])
    return str(low) if low == high else f"{low}-{high}"
