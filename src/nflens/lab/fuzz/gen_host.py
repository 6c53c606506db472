"""Random host-side dimensions of issue 24 for the fuzzing router, each from its own RNG stream
(seeded from the case's seed and index) so the cases the other generators draw stay what they
were:

- native nft tables named `filter` / `nat` (the usual `/etc/nftables.conf` idiom) beside
  iptables-nft's tables of the same name: `nft -f` then adds its chains to iptables' own table,
  and iptables-save prints an "incompatible base-chains" stub of it, or fails with exit 3 on a
  rule it cannot print (class 11);
- B behind a plain Linux bridge on the router (class 15): rb a port of `brfz`, which holds
  rb's IPv4 address, with br_netfilter's bridge-nf-call-iptables on or off;
- listeners bound to a device and owned by a user (world.DEVICE_PORT, world.OWNED_PORT: the
  router listens there from the start), flows that end on them, `-m owner --uid-owner` rules
  in OUTPUT and `ip rule uidrange` rules, both seeing the listeners' answers (classes 13, 14).

The owner and uidrange rules are guarded by the listeners' source ports (8080-8082, which no
probe of the router uses as its own): the router's own probes run as an owner the snapshot
does not show, where nflens rightly says `uncertain` and the fuzzer compares verdicts exactly.
"""

from __future__ import annotations

import dataclasses
import random
import re

from nflens.lab.fuzz.flows import ProbeSpec
from nflens.lab.fuzz.world import (
    DEVICE_PORT,
    OWNED_PORT,
    OWNER_UID,
    SERVICE_PORTS,
    TPROXY_PORT,
    addresses,
)

NATIVE_NAMES = ("filter", "nat")
TPROXY_MARK, TPROXY_TABLE = "0x10", "102"
# class 9: rb's second subnet, B's address in it, and the route to B1 through it
SECOND_R, SECOND_B = "10.7.0.1/24", "10.7.0.2/24"
# what `load` undoes in R after a case with TPROXY or a second subnet (the ip rules go with
# gen_routing.UNDO), and in B
BRIDGE = "brfz"  # class 15: the plain bridge rb is made a port of
RB_ADDR4 = "10.2.0.1/24"
UNDO: list[list[str]] = [["ip", "route", "flush", "table", TPROXY_TABLE],
                         ["ip", "route", "del", f"{addresses('b', 4)[0]}/32"],
                         ["ip", "addr", "del", SECOND_R, "dev", "rb"],
                         ["ip", "link", "set", "rb", "nomaster"],
                         ["ip", "link", "del", BRIDGE],
                         ["ip", "addr", "add", RB_ADDR4, "dev", "rb"]]
PEER_UNDO: list[list[str]] = [["ip", "addr", "del", SECOND_B, "dev", "eth0"]]
LISTENER_SPORTS = ("8080:8082", str(OWNED_PORT), str(DEVICE_PORT))


def native_tables(seed: int, index: int, nft: str | None) -> str | None:
    """`nft` with its first table `fz` renamed `filter` or `nat` on about a third of the cases
    (the family kept: `ip`/`ip6` merges into iptables-nft's table, `inet` stands beside it)."""
    rng = random.Random(f"nflens-fuzz-native:{seed}:{index}")
    if nft is None or rng.random() >= 0.35:
        return nft
    return re.sub(r"^table (\w+) fz \{", rf"table \1 {rng.choice(NATIVE_NAMES)} {{", nft,
                  count=1, flags=re.M)


def listener_flows(seed: int, index: int, probes: list[ProbeSpec]) -> list[ProbeSpec]:
    """`probes` with some of those ending on the router sent to the device-bound or the
    user-owned listener instead (on about 40% of the cases)."""
    rng = random.Random(f"nflens-fuzz-listeners:{seed}:{index}")
    if rng.random() >= 0.4:
        return probes
    out = []
    for spec in probes:
        to_router = spec.name.split("-")[1][1] == "r"
        if to_router and rng.random() < 0.7:
            port = rng.choice((DEVICE_PORT, OWNED_PORT))
            spec = ProbeSpec(spec.name, spec.role, spec.src, spec.sport, spec.dst, port,
                             spec.proto)
        out.append(spec)
    return out


def owner_rules(seed: int, index: int, version: int, iptables: str | None) -> str | None:
    """`iptables` with one or two `-m owner` rules in filter OUTPUT (a filter table made when
    the case had no iptables rules) on about 30% of the cases."""
    rng = random.Random(f"nflens-fuzz-owner:{seed}:{index}")
    if rng.random() >= 0.3:
        return iptables
    rules = [_owner_rule(rng) for _ in range(rng.randint(1, 2))]
    return _insert(rng, iptables, version, "filter", "OUTPUT", rules)


def _insert(rng: random.Random, iptables: str | None, version: int, table: str, chain: str,
            rules: list[str]) -> str:
    """`rules` added to `chain` of `table` (first or last of the chain), the table made when
    `iptables` has none."""
    if iptables is None or f"*{table}\n" not in iptables:
        builtin = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
                   "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")}[table]
        text = (f"*{table}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in builtin)
                + "".join(r + "\n" for r in rules) + "COMMIT\n")
        return (iptables or f"# nflens fuzz, IPv{version}\n") + text
    head, sep, tail = iptables.partition(f"*{table}\n")
    body, commit, rest = tail.partition("COMMIT\n")
    lines = body.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith(f"-A {chain} ")), None)
    at = len(lines) if first is None or rng.random() < 0.5 else first
    lines[at:at] = rules
    return head + sep + "\n".join(lines) + "\n" + commit + rest


def _owner_rule(rng: random.Random) -> str:
    proto = rng.choice(("tcp", "udp"))
    neg = "! " if rng.random() < 0.25 else ""
    uid = rng.choice((str(OWNER_UID), "0", f"{OWNER_UID - 500}-{OWNER_UID + 500}"))
    target = rng.choice(("DROP", "ACCEPT", "REJECT"))
    return (f"-A OUTPUT -p {proto} -m {proto} --sport {rng.choice(LISTENER_SPORTS)} "
            f"-m owner {neg}--uid-owner {uid} -j {target}")


def uid_rules(seed: int, index: int, version: int) -> list[list[str]]:
    """`ip rule` commands with a uidrange selector (IPv4, about 30% of those cases)."""
    rng = random.Random(f"nflens-fuzz-uidrange:{seed}:{index}")
    if version != 4 or rng.random() >= 0.3:
        return []
    low = rng.choice((0, OWNER_UID, OWNER_UID - 500))
    high = rng.choice([h for h in (0, OWNER_UID, OWNER_UID + 500) if h >= low])
    action = rng.choice((["prohibit"], ["blackhole"], ["table", "100"], ["table", "main"]))
    sport = rng.choice(LISTENER_SPORTS).replace(":", "-")
    return [["ip", "rule", "add", "pref", str(rng.choice((50, 150, 450))), "uidrange",
             f"{low}-{high}", "sport", sport] + action]


def tproxy(seed: int, index: int, version: int,
           iptables: str | None) -> tuple[str | None, list[list[str]]]:
    """On about 20% of the IPv4 cases: a mangle PREROUTING TPROXY rule diverting TCP to a
    port to world.TPROXY_PORT (the router's transparent listener) or to a port nobody
    listens on (iptables' TPROXY then drops), with the usual routing (`ip rule fwmark 0x10
    lookup 102`, `local 0.0.0.0/0 dev lo table 102`). The marks the other generators set
    (1-3, some with a full mask) can clear 0x10 again in later mangle rules."""
    rng = random.Random(f"nflens-fuzz-tproxy:{seed}:{index}")
    if version != 4 or rng.random() >= 0.2:
        return iptables, []
    dst = f"-d {rng.choice(addresses('b', 4))}/32 " if rng.random() < 0.5 else ""
    port = rng.choice(SERVICE_PORTS)
    on_port = rng.choice((TPROXY_PORT, TPROXY_PORT, 9998))
    rule = (f"-A PREROUTING {dst}-p tcp -m tcp --dport {port} -j TPROXY --on-port {on_port} "
            f"--on-ip 0.0.0.0 --tproxy-mark {TPROXY_MARK}/{TPROXY_MARK}")
    routing = [["ip", "rule", "add", "pref", "30", "fwmark", f"{TPROXY_MARK}/{TPROXY_MARK}",
                "lookup", TPROXY_TABLE],
               ["ip", "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table",
                TPROXY_TABLE]]
    return _insert(rng, iptables, version, "mangle", "PREROUTING", [rule]), routing


def second_subnet(seed: int, index: int, version: int) -> tuple[list[list[str]], list[list[str]]]:
    """On about 20% of the IPv4 cases, rb holds a second subnet (SECOND_R) and B1 is reached
    through B's address in it (SECOND_B) as a gateway: MASQUERADE and the router's own
    connections then take 10.7.0.1, the address for the next hop (class 9). The commands
    for R and for B."""
    rng = random.Random(f"nflens-fuzz-subnet:{seed}:{index}")
    if version != 4 or rng.random() >= 0.2:
        return [], []
    gw = SECOND_B.split("/")[0]
    return ([["ip", "addr", "add", SECOND_R, "dev", "rb"],
             ["ip", "route", "replace", f"{addresses('b', 4)[0]}/32", "via", gw, "dev", "rb"]],
            [["ip", "addr", "add", SECOND_B, "dev", "eth0"]])


def plain_bridge(seed: int, index: int, version: int) -> list[list[str]]:
    """On about 25% of the IPv4 cases, B sits behind a plain Linux bridge (class 15: libvirt's
    virbr0, a router's br-lan): rb becomes a port of BRIDGE, which takes rb's IPv4 address
    (the bridge adopts its only port's MAC, so B's ARP entry for 10.2.0.1 stays right), with
    br_netfilter's bridge-nf-call-iptables drawn 0 or 1 (per network namespace; the module
    is loaded on the lab machine). rb keeps its IPv6 addresses: IPv6 cases never draw it
    (their neighbours are pinned on rb). The commands for R, run before the others."""
    rng = random.Random(f"nflens-fuzz-bridge:{seed}:{index}")
    if version != 4 or rng.random() >= 0.25:
        return []
    call = rng.choice(("0", "1"))
    return [["ip", "link", "add", BRIDGE, "type", "bridge"],
            ["ip", "link", "set", "rb", "master", BRIDGE],
            ["ip", "addr", "del", RB_ADDR4, "dev", "rb"],
            ["ip", "addr", "add", RB_ADDR4, "dev", BRIDGE],
            ["ip", "link", "set", BRIDGE, "up"],
            ["sysctl", "-q", "-w", f"net.bridge.bridge-nf-call-iptables={call}"]]


def behind_bridge(bridge: list[list[str]], probes: list[ProbeSpec],
                  routing: list[list[str]]) -> tuple[list[ProbeSpec], list[list[str]]]:
    """With the bridge drawn: B's flows enter by the bridge, and the other dimensions'
    commands that name rb's device (the second subnet) name the bridge instead."""
    if not bridge:
        return probes, routing
    probes = [dataclasses.replace(p, iface=BRIDGE) if p.role == "b" else p for p in probes]
    routing = [[BRIDGE if a == "rb" and argv[:2] in (["ip", "addr"], ["ip", "route"]) else a
                for a in argv] for argv in routing]
    return probes, bridge + routing
