"""Statements that cannot hold together: a later statement whose whole scope an earlier one
already decides (issue 16.7).

Chains are first-match: the compiled rules of a statement come in the order of the statements
(resolve.py; a container's own egress/to_host statement before its network's), and each
statement's rules decide *every* packet of its scope -- its `return`s for what it allows, a
`drop` for the rest. So when an earlier statement's scope covers a later one's, the later one
compiles to rules that can never match: `web:8080 from office` then `web:8080 from any` never
opens the port to anyone, and a network's `default: deny` egress after its `default: allow`
(or the other way round) is one of the two silently ignored. The simulator cannot see this
(judge() credits the earlier statement, the later is merely "unexercised"), so it is found here,
on the resolved statements, and makes the plan NOT OK, naming the statement that cannot hold.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from nflens.policy.resolve import EgressRule, InboundPort, Net, Resolved, ToHostRule


@dataclass(frozen=True)
class Conflict:
    statement: str  # the one that can never match
    shadowed_by: str
    message: str


def _covers(first: tuple[Net, ...] | None, later: tuple[Net, ...] | None) -> bool:
    """Every source of `later` is a source of `first` (None: the whole network)."""
    if first is None:
        return True
    if later is None:
        return False
    return all(any(_within(n, f) for f in first) for n in later)


def _within(inner: Net, outer: Net) -> bool:
    """`inner` lies inside `outer`; never across IP versions (where subnet_of raises)."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _sources(nets: tuple[Net, ...] | None) -> str:
    return "any source" if nets is None else ", ".join(str(n) for n in nets)


def _inbound(res: Resolved) -> list[Conflict]:
    out = []
    first: dict[tuple[object, ...], InboundPort] = {}
    for st in res.inbound:
        key = (st.target.container, st.target.bridge, st.host_port, st.container_port, st.proto)
        earlier = first.setdefault(key, st)
        if earlier.label != st.label:
            out.append(Conflict(st.label, earlier.label,
                                f"{st.label} can never match: {earlier.label} comes first and "
                                f"already decides every connection to {st.target.container} "
                                f"port {st.host_port}/{st.proto} (it allows "
                                f"{_sources(earlier.sources)}; this one would allow "
                                f"{_sources(st.sources)})"))
    return out


def _scoped(kind: str, statements: Sequence[EgressRule | ToHostRule]) -> list[Conflict]:
    out = []
    for i, st in enumerate(statements):
        for earlier in statements[:i]:
            if earlier.label == st.label or earlier.bridge != st.bridge:
                continue
            if not _covers(earlier.sources, st.sources):
                continue
            disagree = f" ({earlier.default} vs {st.default})" if earlier.default != \
                st.default else ""
            out.append(Conflict(st.label, earlier.label,
                                f"{st.label} can never match: {earlier.label} comes first and "
                                f"already decides the {kind} of {_sources(st.sources)} on "
                                f"{st.bridge}{disagree}"))
            break
    return out


def conflicts(res: Resolved) -> list[Conflict]:
    found = _inbound(res) + _scoped("egress", res.egress) + _scoped("traffic to the host",
                                                                     res.to_host)
    return list({(c.statement, c.shadowed_by): c for c in found}.values())
