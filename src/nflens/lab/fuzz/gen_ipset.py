"""Random ipsets with contents (`ipset restore` input) and `-m set` matches woven into a drawn
iptables ruleset.

Drawn from their own RNG stream (seeded with the case's seed and index, like the case), so the
rest of a case — its rules and flows — stays what it was before ipsets were drawn: a case
index keeps meaning the same ruleset, with `-m set` matches added to some of its rules. The
sets hold the world's addresses, subnets and service ports, with what real hosts use and
models get wrong: nomatch carve-outs inside a net, --return-nomatch, src/dst flags per
dimension, `!`, a timeout, bitmap:port, a list:set (one member of the other family, which
never matches: iptables refuses such a set in a rule of its own, not inside a list:set).
"""

from __future__ import annotations

import ipaddress
import random

from nflens.lab.fuzz.world import SERVICE_PORTS, addresses, subnet

NAMES = ("fz_ip", "fz_net", "fz_ipport", "fz_netport", "fz_ports", "fz_list")
_DIMS = {"fz_ip": 1, "fz_net": 1, "fz_ipport": 2, "fz_netport": 2, "fz_ports": 1, "fz_list": 1}


def _hosts(version: int) -> list[str]:
    return addresses("a", version) + addresses("b", version) + addresses("r", version)


def _net_entries(rng: random.Random, version: int) -> list[str]:
    """Subnets, and inside one a nomatch host or a nomatch half with a host inside it again."""
    side = rng.choice(("a", "b"))
    net = ipaddress.ip_network(subnet(side, version))
    out = [f"add fz_net {net}"]
    if rng.random() < 0.5:
        out.append(f"add fz_net {subnet('b' if side == 'a' else 'a', version)}")
    host = rng.choice(addresses(side, version))
    if rng.random() < 0.5:
        out.append(f"add fz_net {host} nomatch")
    else:
        half = ipaddress.ip_network(f"{net.network_address}/{net.prefixlen + 1}")
        out.append(f"add fz_net {half} nomatch")
        inner = [h for h in addresses(side, version) if half.overlaps(ipaddress.ip_network(h))]
        if inner and rng.random() < 0.6:
            out.append(f"add fz_net {rng.choice(inner)}")
    return out


def ipsets(rng: random.Random, version: int) -> str:
    """The case's sets, as `ipset restore` reads them."""
    family = "inet" if version == 4 else "inet6"
    other = "inet6" if version == 4 else "inet"
    hosts = _hosts(version)
    lines = [f"create fz_ip hash:ip family {family} timeout 3600"]
    lines += [f"add fz_ip {h} timeout 3000" for h in rng.sample(hosts, rng.randint(1, 3))]
    lines.append(f"create fz_net hash:net family {family}")
    lines += _net_entries(rng, version)
    lines.append(f"create fz_ipport hash:ip,port family {family}")
    for _ in range(rng.randint(1, 3)):
        lines.append(f"add fz_ipport {rng.choice(hosts)},{rng.choice(('tcp', 'udp'))}:"
                     f"{rng.choice(SERVICE_PORTS)}")
    lines.append(f"create fz_netport hash:net,port family {family}")
    lines.append(f"add fz_netport {subnet(rng.choice(('a', 'b')), version)},"
                 f"{rng.choice(('tcp', 'udp'))}:{rng.choice(SERVICE_PORTS)}")
    lines.append("create fz_ports bitmap:port range 1-10000")
    lines += [f"add fz_ports {p}" for p in rng.sample(SERVICE_PORTS, rng.randint(1, 3))]
    lines.append(f"create fz_other hash:ip family {other}")
    lines.append(f"add fz_other {_hosts(6 if version == 4 else 4)[0]}")
    lines.append("create fz_list list:set size 8")
    members = rng.sample(["fz_ip", "fz_net", "fz_other"], rng.randint(1, 3))
    lines += [f"add fz_list {m}" for m in members]
    # an entry drawn twice: `ipset restore` refuses the second ("it's already added")
    return "\n".join(dict.fromkeys(lines)) + "\n"


def match(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    flags = ",".join(rng.choice(("src", "dst")) for _ in range(_DIMS[name]))
    neg = "! " if rng.random() < 0.25 else ""
    tail = " --return-nomatch" if name == "fz_net" and rng.random() < 0.3 else ""
    return f"-m set {neg}--match-set {name} {flags}{tail}"


def weave(rng: random.Random, rules: str, p: float = 0.35) -> str:
    """`rules` with a `-m set` match added to some rules of the filter and mangle tables."""
    out, table = [], ""
    for line in rules.splitlines():
        if line.startswith("*"):
            table = line[1:]
        if line.startswith("-A ") and table in ("filter", "mangle") and rng.random() < p:
            head, _, rest = line[3:].partition(" ")
            line = f"-A {head} {match(rng)} {rest}".rstrip()
        out.append(line)
    return "\n".join(out) + "\n"
