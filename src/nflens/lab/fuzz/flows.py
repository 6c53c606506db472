"""Random flows for one fuzz case, as CONTRACT §3 flow objects plus where to send them from.

Kinds: forwarded A->B and B->A (the FORWARD path and both NAT points), to the router itself
from either side (INPUT, REDIRECT, DNAT to the far side), and from the router (OUTPUT, nat
OUTPUT). Every flow carries its source port: sport matches are part of the grammar, and the
probe binds exactly that port so both sides see the same packet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from nflens.lab.fuzz.world import CLOSED_PORT, PROTOS, ROUTER_IFACE, SERVICE_PORTS, addresses


def sport_for(index: int, i: int, per_case: int) -> int:
    """Source ports walk 20000-59999 with the case index, so consecutive cases never reuse a
    4-tuple (a TIME_WAIT or conntrack leftover) and a case keeps its ports when replayed."""
    return 20000 + ((index * per_case + i) * 7) % 40000


@dataclass(frozen=True)
class ProbeSpec:
    """What the prober needs: the namespace role, the bound source, the destination."""

    name: str
    role: str  # "a", "b" or "r"
    src: str | None  # None: the kernel picks (the router's own connections)
    sport: int
    dst: str
    dport: int
    proto: str
    # the router device the client's packets enter the IP stack by, when not ROUTER_IFACE's
    # (B behind a plain bridge: gen_host.plain_bridge)
    iface: str | None = None

    def flow_json(self) -> dict[str, Any]:
        origin: dict[str, Any]
        if self.role == "r":
            origin = {"host": True, "sport": self.sport}
        else:
            origin = {"iface": self.iface or ROUTER_IFACE[self.role], "src": self.src,
                      "sport": self.sport}
        return {"name": self.name, "from": origin,
                "to": {"addr": self.dst, "port": self.dport, "proto": self.proto}}


UNIQUE_FROM = 8  # flows past the first 8 are drawn again (up to 4 times) when they repeat one


def draw(rng: random.Random, version: int, count: int, index: int = 0) -> list[ProbeSpec]:
    """`count` flows. The first UNIQUE_FROM are drawn as they always were (a case of 8 flows
    stays the same); the later ones of a long case (`--flows 32`) avoid repeating a flow
    already drawn (kind, protocol, addresses, port), so more flows per case test more."""
    out: list[ProbeSpec] = []
    seen: set[tuple[str, str | None, str, int, str]] = set()
    for i in range(count):
        for _ in range(1 if i < UNIQUE_FROM else 4):
            spec = _one(rng, version, i, sport_for(index, i, count))
            key = (spec.role + spec.name.split("-")[1], spec.src, spec.dst, spec.dport,
                   spec.proto)
            if key not in seen:
                break
        seen.add(key)
        out.append(spec)
    return out


def _one(rng: random.Random, version: int, i: int, sport: int) -> ProbeSpec:
    kind = rng.choice(("ab", "ba", "ar", "br", "ra", "rb", "ab"))
    proto = rng.choice(PROTOS)
    src_role, dst_role = kind[0], kind[1]
    src = rng.choice(addresses(src_role, version)) if src_role != "r" else None
    dst = rng.choice(addresses(dst_role, version))
    ports = SERVICE_PORTS + ((CLOSED_PORT,) if dst_role == "r" else ())
    return ProbeSpec(f"f{i}-{kind}-{proto}", src_role, src, sport, dst, rng.choice(ports), proto)
