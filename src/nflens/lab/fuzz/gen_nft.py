"""Random native nftables tables (`nft -f` input) beside the iptables-nft ones.

What this adds to the iptables draws: several base chains on one hook at different priorities
(before and after iptables' own at 0 / -100 / 100), an `accept` that only ends its own base
chain, `inet` tables seeing both families, anonymous sets, verdict maps, `ct original` keys,
`th dport`, mark set / match, and nat chains competing with iptables' nat.

Issue 24 adds: a second table with a base chain at a priority the first already uses (the
chain registered last runs first); nat chains at non-standard priorities (they still run at
nf_nat's -100/+100); NAT from a map keyed by the source address and NAT to an address range
(a hashed pick).
"""

from __future__ import annotations

import random
import re

from nflens.lab.fuzz.gen_iptables import ALL_PORTS, Draw
from nflens.lab.fuzz.world import SERVICE_PORTS, addresses

PRIORITIES = (-300, -150, -10, 0, 10, 50, 150)
FILTER_HOOKS = ("prerouting", "input", "forward", "output", "postrouting")


def _fam_kw(version: int) -> str:
    return "ip" if version == 4 else "ip6"


def _set(d: Draw, values: list) -> str:
    values = sorted(set(values), key=str)
    return str(values[0]) if len(values) == 1 else "{ " + ", ".join(map(str, values)) + " }"


def _addr_match(d: Draw, version: int) -> str:
    key = d.pick(("saddr", "daddr"))
    op = "!= " if d.chance(0.15) else ""
    vals = [d.addr() for _ in range(d.rng.randint(1, 3))]
    if op or len(vals) == 1:
        return f"{_fam_kw(version)} {key} {op}{vals[0]}"
    return f"{_fam_kw(version)} {key} {_set(d, vals)}"


def _port_match(d: Draw) -> tuple[str, str]:
    proto = d.pick(("tcp", "udp", "th"))
    key = "dport" if d.chance(0.8) else "sport"
    if key == "sport":
        lo = d.rng.randint(1024, 60000)
        vals = f"{lo}-{min(65535, lo + d.rng.randint(0, 20000))}"
    else:
        vals = _set(d, [d.port() for _ in range(d.rng.randint(1, 3))])
    op = "!= " if d.chance(0.1) and "{" not in vals else ""
    if proto == "th":
        l4 = d.pick(("tcp", "udp"))
        return f"meta l4proto {l4} th {key} {op}{vals}", l4
    return f"{proto} {key} {op}{vals}", proto


def _ct_match(d: Draw, version: int, proto: str | None) -> str:
    r = d.rng.random()
    if r < 0.6:
        states = sorted({d.pick(("new", "established", "related", "invalid", "untracked"))
                         for _ in range(d.rng.randint(1, 2))})
        return f"ct state {','.join(states)}" if len(states) > 1 or d.chance(0.5) else \
            f"ct state {{ {', '.join(states)} }}"
    if r < 0.75:
        return f"ct original {_fam_kw(version)} daddr {d.addr()}"
    if r < 0.85 and proto:
        return f"ct original proto-dst {d.pick(ALL_PORTS)}"
    if r < 0.93:
        return f"ct status {'!= ' if d.chance(0.2) else ''}{d.pick(('dnat', 'snat'))}"
    return f"ct direction {d.pick(('original', 'reply'))}"


def _matches(d: Draw, hook: str, version: int) -> tuple[list[str], str | None]:
    parts: list[str] = []
    proto = None
    if d.chance(0.4):
        parts.append(_addr_match(d, version))
    if hook not in ("output", "postrouting") and d.chance(0.25):
        parts.append(f'iifname {"!= " if d.chance(0.1) else ""}"{d.pick(("ra", "rb", "lo"))}"')
    if hook not in ("input", "prerouting") and d.chance(0.2):
        parts.append(f'oifname "{d.pick(("ra", "rb", "r*"))}"')
    if d.chance(0.5):
        text, proto = _port_match(d)
        parts.append(text)
    elif d.chance(0.15):
        proto = d.pick(("tcp", "udp"))
        parts.append(f"meta l4proto {proto}")
    if d.chance(0.35):
        parts.append(_ct_match(d, version, proto))
    if d.chance(0.1):
        parts.append(f"meta mark {'!= ' if d.chance(0.2) else ''}0x{d.rng.randint(1, 3):08x}")
    if d.chance(0.05):
        parts.append(f"fib daddr type {'!= ' if d.chance(0.2) else ''}local")
    return parts, proto


def _verdict(d: Draw, users: list[str], hook: str, proto: str | None, family: str) -> str:
    r = d.rng.random()
    # user chains may reject, which the kernel refuses under prerouting/postrouting
    if users and r < 0.15 and hook in ("input", "forward", "output", "user"):
        return f"{d.pick(('jump', 'goto'))} {d.pick(users)}"
    if r < 0.45:
        return "accept"
    if r < 0.7:
        return "drop"
    if r < 0.8 and hook in ("input", "forward", "output", "user"):
        icmp = {"inet": "icmpx", "ip": "icmp", "ip6": "icmpv6"}[family]
        kinds = ("reject", f"reject with {icmp} type port-unreachable")
        return d.pick(kinds + (("reject with tcp reset",) * 2 if proto == "tcp" else ()))
    if r < 0.87:
        return "return"
    if r < 0.95:
        return f"meta mark set 0x{d.rng.randint(1, 3):x}"
    return "counter"


def _vmap_rule(d: Draw) -> str:
    proto = d.pick(("tcp", "udp"))
    ports = sorted({d.pick(ALL_PORTS) for _ in range(d.rng.randint(1, 3))})
    items = ", ".join(f"{p} : {d.pick(('accept', 'drop'))}" for p in ports)
    return f"{proto} dport vmap {{ {items} }}"


def _filter_chain(d: Draw, name: str, hook: str | None, users: list[str], version: int,
                  family: str) -> list[str]:
    out = [f"  chain {name} {{"]
    if hook:
        policy = "drop" if d.chance(0.25) else "accept"
        out.append(f"    type filter hook {hook} priority {d.pick(PRIORITIES)}; policy {policy};")
    for _ in range(d.rng.randint(0, 5)):
        if d.chance(0.08):
            out.append(f"    {_vmap_rule(d)}")
            continue
        parts, proto = _matches(d, hook or "user", version)
        out.append("    " + " ".join(parts + [_verdict(d, users, hook or "user", proto, family)]))
    out.append("  }")
    return out


def _nat_chains(d: Draw, version: int, family: str) -> list[str]:
    out = []
    fam = _fam_kw(version)
    dest = d.pick(addresses("b", version))
    pre = d.pick((-100, -110, -90, -150, -50, 50))
    out += ["  chain fz_dnat {", f"    type nat hook prerouting priority {pre}; policy accept;"]
    proto = d.pick(("tcp", "udp"))
    port = d.pick(ALL_PORTS)
    addr = d.pick(addresses("r", version))
    to = f"{dest}:{d.pick(SERVICE_PORTS)}" if version == 4 else f"[{dest}]:{d.pick(SERVICE_PORTS)}"
    prefix = f"{fam} daddr {addr} " if d.chance(0.6) else ""
    kw = f"dnat {fam} to" if family == "inet" else "dnat to"
    r = d.rng.random()
    if r < 0.45:
        out.append(f"    {prefix}{proto} dport {port} {kw} {to}")
    elif r < 0.6:
        out.append(f"    {prefix}{proto} dport {port} {kw} {_nat_map(d, version)}")
    elif r < 0.7:
        lo, hi = addresses("b", version)[:2]
        out.append(f"    {prefix}{proto} dport {port} {kw} {lo}-{hi}")
    else:
        out.append(f"    {prefix}{proto} dport {port} redirect to :{d.pick(ALL_PORTS)}")
    out.append("  }")
    if d.chance(0.5):
        out += ["  chain fz_snat {",
                f"    type nat hook postrouting priority {d.pick((100, 110, 90, 50, 150))}; "
                "policy accept;"]
        oif = d.pick(("ra", "rb"))
        out.append(f'    oifname "{oif}" masquerade' if d.chance(0.6)
                   else f'    oifname "{oif}" snat {fam if family == "inet" else ""} to '
                        f'{d.pick(addresses("r", version))}'.replace("  ", " "))
        out.append("  }")
    return out


def _nat_map(d: Draw, version: int) -> str:
    """`{fam} saddr map { client address : B's address, ... }` (a missing key: no NAT)."""
    fam = _fam_kw(version)
    srcs = addresses("a", version)
    pairs = [f"{s} : {d.pick(addresses('b', version))}" for s in srcs if d.chance(0.8)]
    if not pairs:
        pairs = [f"{srcs[0]} : {addresses('b', version)[0]}"]
    return f"{fam} saddr map {{ {', '.join(pairs)} }}"


def _second_table(d: Draw, version: int, hooks: list[str], prios: list[int]) -> list[str]:
    """A table made after `fz` with a base chain on one of its hooks, often at a priority fz
    already uses: at equal priority the newer chain runs first (nf_hook_entries_grow)."""
    family = d.pick(("inet", _fam_kw(version)))
    hook = d.pick(hooks)
    prio = d.pick(prios) if prios and d.chance(0.7) else d.pick(PRIORITIES)
    out = [f"table {family} fz2 {{", "  chain fz2_base {",
           f"    type filter hook {hook} priority {prio}; policy accept;"]
    for _ in range(d.rng.randint(1, 3)):
        parts, proto = _matches(d, hook, version)
        out.append("    " + " ".join(parts + [_verdict(d, [], hook, proto, family)]))
    return out + ["  }", "}"]


def ruleset(rng: random.Random, version: int) -> str:
    """One `nft -f` input: a table `fz` of family ip/ip6/inet with 1-3 base chains, sometimes
    a second table `fz2`. Not drawn: a native table named `filter` / `nat` beside iptables-nft
    (tests/lab/test_lab_netfilter_decisions.py covers it): with a rule iptables-nft cannot
    parse in it (`meta mark set`, a vmap) iptables-save exits 3, "meta sreg key not supported"."""
    d = Draw(rng, version)
    family = d.pick(("inet", _fam_kw(version)))
    name = "fz"
    users = [f"fz_u{i}" for i in range(d.rng.randint(0, 2))]
    lines = [f"table {family} {name} {{"]
    hooks = sorted({d.pick(FILTER_HOOKS) for _ in range(d.rng.randint(1, 3))})
    # user chains first, the last one first: nft resolves a jump only to a chain already made
    for i in reversed(range(len(users))):
        lines += _filter_chain(d, users[i], None, users[i + 1:], version, family)
    for hook in hooks:
        lines += _filter_chain(d, f"fz_{hook}", hook, users, version, family)
    if d.chance(0.3):
        lines += _nat_chains(d, version, family)
    lines.append("}")
    if d.chance(0.35):
        prios = [int(x) for x in re.findall(r"priority (-?\d+); policy", "\n".join(lines))]
        lines += _second_table(d, version, hooks, prios)
    return "\n".join(lines) + "\n"
