"""Port forwards the admin wrote in native nftables: a `type nat hook prerouting` chain's
`dnat to ADDR:PORT` to a guest that is not a container (a VM behind a bridge such as libvirt's
virbr0, a host behind a second interface), found in the ruleset so that the audit's exposure
and findings cover them like a container's published port.

The kernel does to them what it does to Docker's DNAT: the destination is rewritten in
prerouting (net/netfilter/nf_nat_core.c, nf_nat_ipv4_fn at NF_INET_PRE_ROUTING), the routing
decision that follows sees the guest's address, so the packet takes the forward hook and never
the input hook (net/ipv4/ip_input.c ip_rcv_finish -> ip_route_input_noref; ip_forward). Their
reach is the simulator's (the exposure asks it, as for a published port); what is recognised
here is only which (protocol, host address, host port) the admin forwards, and to whom.

Recognised: a rule of a native nft table (origin "nft", not a runtime's own table) whose
matches are a `tcp|udp dport N` (or `th dport` with `meta l4proto`), optionally an `ip daddr A`
/ `ip6 daddr A` or `fib daddr type local`, and whose verdict is `dnat to` one address (with a
port or not). Any other match (`iifname`, a source) is left to the simulator: the exposure
is computed per interface and source anyway. A target that is a container's address is the
runtime's own (Docker 29's docker-bridges, netavark), listed as its published port already.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from nflens.ir.host import Container, ContainerEndpoint, Host, PortBinding
from nflens.ir.rules import Action, NftCmp, NftExpr, Rule

RUNTIME_TABLES = {"docker-bridges", "docker", "netavark"}  # a runtime's own DNAT
# matches that only narrow who is forwarded: the exposure's simulation judges them
SIMULATED = {("meta", "iifname"), ("meta", "iif"), ("payload", "saddr")}


@dataclass(frozen=True)
class Forward:
    """One forwarded port: the binding as a published port has it, the guest as a container
    stand-in (its address on the bridge it sits behind), and the rule that forwards it."""

    guest: Container
    binding: PortBinding
    rule: Rule
    bridge: str | None  # the interface the guest's address is routed to


def forwards(host: Host) -> list[Forward]:
    containers = {str(a.ip) for c in host.docker.containers for ep in c.endpoints
                  for a in (ep.ipv4, ep.ipv6) if a is not None}
    out = []
    for t in host.ruleset.tables:
        if t.origin != "nft" or t.name in RUNTIME_TABLES:
            continue
        for c in t.chains:
            if c.hook != "prerouting" or c.type != "nat":
                continue
            for r in c.rules:
                found = _forward(host, r)
                if found is not None and str(found.guest.name) not in containers:
                    out.append(found)
    return out


def _forward(host: Host, rule: Rule) -> Forward | None:
    """The rule as a port forward, or None when it is not one this module recognises."""
    action = rule.exprs[-1] if rule.exprs else None
    if not isinstance(action, Action) or action.name != "dnat":
        return None
    addr, port = action.get("addr"), action.get("port")
    if not (isinstance(addr, tuple) and addr[0] == addr[1]) or not (
            port is None or (isinstance(port, tuple) and port[0] == port[1])):
        return None
    proto = dport = None
    host_ip = ""
    for e in rule.exprs[:-1]:
        if not isinstance(e, NftCmp):
            return None
        kind = _field(e)
        if kind == ("payload", "dport") and e.op == "==" and isinstance(e.right, int):
            proto, dport = _arg(e.left, "protocol"), e.right
        elif kind == ("payload", "daddr") and e.op == "==" and isinstance(e.right, str):
            host_ip = e.right
        elif kind == ("meta", "l4proto") and e.op == "==" and e.right in ("tcp", "udp"):
            proto = e.right if proto in (None, "th") else proto
        elif kind not in SIMULATED and not (
                kind == ("fib", "type") and e.op == "==" and e.right == "local"):
            return None
    if proto not in ("tcp", "udp") or dport is None:
        return None
    guest = addr[0]
    if not host_ip and guest.version == 6:
        host_ip = "::"  # the binding's family is read from its address (context.Published)
    return Forward(_guest(guest, _route_dev(host, guest)),
                   PortBinding(port[0] if port else dport, str(proto), host_ip, dport),
                   rule, _route_dev(host, guest))


def _field(e: NftCmp) -> tuple[str, str] | None:
    left = e.left
    if not isinstance(left, NftExpr):
        return None
    if left.kind == "fib":
        return ("fib", str(_arg(left, "result")))
    name = "field" if left.kind == "payload" else "key"
    return (left.kind, str(_arg(left, name)))


def _arg(e: NftExpr, key: str) -> object:
    return dict(e.args).get(key)


def _route_dev(host: Host, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    best = None
    for r in host.routes:
        if r.dst.version == addr.version and addr in r.dst and r.type == "unicast" and \
                r.table == "main" and (
                best is None or r.dst.prefixlen > best.dst.prefixlen):
            best = r
    return best.dev if best is not None else None


def _guest(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, dev: str | None) -> Container:
    if isinstance(addr, ipaddress.IPv4Address):
        endpoint = ContainerEndpoint(dev or "", ipv4=ipaddress.IPv4Interface(f"{addr}/32"))
    else:
        endpoint = ContainerEndpoint(dev or "", ipv6=ipaddress.IPv6Interface(f"{addr}/128"))
    return Container("", str(addr), endpoints=(endpoint,), network_mode="dnat")


