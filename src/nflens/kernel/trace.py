"""The steps a packet took, as typed records: what each hook, rule, NAT, route and bridge did.

Reports only render these; they never recompute. Every step serialises to a JSON object with a
"step" key naming its type (the `path` array of CONTRACT §4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


_PLAIN = frozenset((str, int, bool, float, type(None)))


@dataclass(slots=True)
class Step:
    """Base of every trace step. `direction` is "original" or "reply"; `phase` a short label."""

    direction: str
    phase: str

    kind = "step"

    def to_json(self) -> dict[str, Any]:
        encode = _ENCODERS.get(type(self))
        if encode is None:
            encode = _ENCODERS[type(self)] = _encoder(type(self))
        return encode(self)


def _encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The `to_json` of one step class, written out field by field once (`check --json`
    serialises some 30 steps per flow: a loop over `fields()` with getattr per field was the
    largest single cost of printing them). Same output: plain values as they are, anything
    else through `_jsonable`."""
    names = tuple(f.name for f in fields(cls))
    body = ", ".join(f"{n!r}: (v if (v := self.{n}).__class__ in _PLAIN else _jsonable(v))"
                     for n in names)
    code = f"def to_json(self):\n    return {{'step': self.kind, {body}}}\n"
    scope: dict[str, Any] = {"_PLAIN": _PLAIN, "_jsonable": _jsonable}
    exec(compile(code, f"<to_json of {cls.__name__}>", "exec"), scope)  # noqa: S102
    encode: Callable[[Any], dict[str, Any]] = scope["to_json"]
    return encode


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


@dataclass(slots=True)
class PacketStep(Step):
    """The packet as it is at this point (shown at phase boundaries)."""

    packet: str = ""
    where: str | None = ""  # None: out by a route without a device (a multipath route's)
    kind = "packet"


@dataclass(slots=True)
class HookStep(Step):
    """A base chain is entered: family, hook, table, chain, priority, and its verdict."""

    family: str = ""
    hook: str = ""
    table: str = ""
    chain: str = ""
    priority: int = 0
    origin: str = ""
    verdict: str = ""
    kind = "hook"


@dataclass(slots=True)
class RuleStep(Step):
    """One rule evaluated: matched (True/False/"unknown"), and what its actions did."""

    family: str = ""
    table: str = ""
    chain: str = ""
    index: int = 0
    rule: str = ""
    file: str = ""
    line: int = 0
    matched: Any = False
    action: str = ""
    note: str = ""
    skipped: int = 0  # rules index..index+skipped-1 were passed over by the index, unevaluated
    kind = "rule"


@dataclass(slots=True)
class PolicyStep(Step):
    family: str = ""
    table: str = ""
    chain: str = ""
    policy: str = ""
    kind = "policy"


@dataclass(slots=True)
class ConntrackStep(Step):
    """Conntrack's view of the packet: state, direction, whether the entry is new, NAT status."""

    state: str = ""
    ct_direction: str = ""
    entry: str = ""
    note: str = ""
    kind = "conntrack"


@dataclass(slots=True)
class NatStep(Step):
    """A NAT rewrite: before -> after, and whether it came from a rule or from conntrack."""

    nat: str = ""
    before: str = ""
    after: str = ""
    by: str = ""
    kind = "nat"


@dataclass(slots=True)
class RouteStep(Step):
    """A FIB decision: destination, the route used (table, prefix, dev, via) and the outcome."""

    dst: str = ""
    decision: str = ""
    route: str = ""
    oif: str = ""
    kind = "route"


@dataclass(slots=True)
class BridgeStep(Step):
    bridge: str = ""
    in_port: str = ""
    out_port: str = ""
    note: str = ""
    kind = "bridge"


@dataclass(slots=True)
class ArpStep(Step):
    """An ARP exchange a delivery needed: who asked whom, and whether it got through."""

    op: str = ""
    sender: str = ""
    target: str = ""
    ok: bool = True
    note: str = ""
    kind = "arp"


@dataclass(slots=True)
class EndpointStep(Step):
    """Where the packet ended: a socket, a container, docker-proxy, a peer, or nothing."""

    endpoint: str = ""
    answers: str = ""
    note: str = ""
    kind = "endpoint"


@dataclass(slots=True)
class VerdictStep(Step):
    verdict: str = ""
    reason: str = ""
    kind = "verdict"


@dataclass
class Trace:
    """An append-only list of steps; the simulator owns one per packet journey."""

    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]
