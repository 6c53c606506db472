"""Resolved statements -> the rules of model.py (see its docstring for the chain layout).

Rule order inside a chain is what makes the statements compose:
- inbound: for each published port, `return` for each allowed source, then `drop` for the rest
  of that port; then, when the inbound default is closed, `drop` every other new connection into
  each Docker network from outside it;
- egress: for each statement, `return` for each allowed destination and DNS, then `drop` for
  the rest of what those sources open outside their own network;
- input: for each statement, `return` for the allowed host ports, then `drop`.
Traffic that stays inside one Docker network (`-i br -o br`) is never touched: that is Docker's
inter-container communication (icc), not inbound nor egress.
"""

from __future__ import annotations

from typing import Any

from nflens.policy.model import ESTABLISHED, Compiled, Net, PRule
from nflens.policy.resolve import EgressRule, InboundPort, Resolved, ToHostRule


def _sources(sources: tuple[Net, ...] | None, version: int | None) -> list[Net | None]:
    if sources is None:
        return [None]
    return [s for s in sources if version is None or s.version == version]


def inbound_rules(ip: InboundPort) -> list[PRule]:
    """A stopped container has no address (`addrs` empty): its rules match any destination on
    its bridge, still pinned by the container port and the published host port."""
    out = []
    t = ip.target
    for addr in t.addrs or (None,):
        base: dict[str, Any] = dict(chain="inbound", comment=ip.label, iif=t.bridge,
                                    iif_neg=True, oif=t.bridge, dst=addr, proto=ip.proto,
                                    dport=ip.container_port, orig_dport=ip.host_port)
        for src in _sources(ip.sources, addr.version if addr else None):
            out.append(PRule(verdict="return", src=src, **base))
        if ip.sources is not None:
            out.append(PRule(verdict="drop", **base))
    return out


def closed_rules(bridge: str) -> list[PRule]:
    return [PRule("inbound", "drop", "inbound default closed", iif=bridge, iif_neg=True,
                  oif=bridge, ctstate=("new",))]


def _allow_all(st: EgressRule | ToHostRule, chain: str) -> list[PRule]:
    """A container's own `default: allow` must still override its network's deny (first match
    wins), so it returns early; a whole network's `allow` needs no rule at all."""
    return [PRule(chain, "return", st.label, iif=st.bridge, src=src)
            for src in _sources(st.sources, None) if st.sources is not None]


def egress_rules(eg: EgressRule) -> list[PRule]:
    if eg.default == "allow":
        return _allow_all(eg, "egress")
    out = []
    for src in _sources(eg.sources, None):
        base: dict[str, Any] = dict(chain="egress", comment=eg.label, iif=eg.bridge, src=src)
        for dests, port, proto in eg.allow:
            for dst in _sources(dests, src.version if src else None):
                out.append(PRule(verdict="return", dst=dst, proto=proto, dport=port, **base))
        if eg.dns:
            out += [PRule(verdict="return", proto=p, dport=53, **base) for p in ("udp", "tcp")]
        out.append(PRule(verdict="drop", oif=eg.bridge, oif_neg=True, **base))
    return out


def to_host_rules(th: ToHostRule) -> list[PRule]:
    if th.default == "allow":
        return _allow_all(th, "input")
    out = []
    for src in _sources(th.sources, None):
        base: dict[str, Any] = dict(chain="input", comment=th.label, iif=th.bridge, src=src)
        out += [PRule(verdict="return", proto=proto, dport=port, **base)
                for port, proto in th.allow]
        out.append(PRule(verdict="drop", **base))
    return out


def compile_rules(res: Resolved) -> Compiled:
    inbound = [r for ip in res.inbound for r in inbound_rules(ip)]
    inbound += [r for b in res.closed_bridges for r in closed_rules(b)]
    egress = [r for eg in res.egress for r in egress_rules(eg)]
    input_ = [r for th in res.to_host for r in to_host_rules(th)]
    forward = [PRule("forward", "return", "replies", ctstate=ESTABLISHED),
               PRule("forward", "jump inbound"), PRule("forward", "jump egress")]
    if input_:
        input_.insert(0, PRule("input", "return", "replies", ctstate=ESTABLISHED))
    rules = forward + inbound + egress + input_
    return Compiled(tuple(dict.fromkeys(rules)), res.take_over, tuple(res.warnings))
