"""The compiled policy as plain data: four chains of small rules, the same for both dialects.

    forward  (jumped from DOCKER-USER / an nft forward chain)
        ct state related,established -> return     replies always pass: egress limits stay
                                                   "deny but let replies through" (seed 003)
        -> inbound                                 both sub-chains must let a packet pass, so a
        -> egress                                  container-to-container connection meets its
                                                   target's inbound and its source's egress rules
    inbound  connections *into* a Docker network from outside it; allow = return, deny = drop
    egress   connections opened *by* containers to outside their network
    input    container -> host (INPUT, where Docker's FORWARD rules never look: seed 003)

"Allow" is `return`, never `accept`: the policy only ever narrows what Docker and the rest of
the firewall allow, so "nothing else changed" is a property of the construction, and a policy
cannot open a port Docker did not publish. Published ports are matched on conntrack's original
destination port (`--ctorigdstport` / `ct original proto-dst`): in FORWARD the packet's own
destination is already the container's (nat PREROUTING DNATed it, seed 004).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Net = ipaddress.IPv4Network | ipaddress.IPv6Network

CHAINS = ("forward", "inbound", "egress", "input")
ESTABLISHED = ("established", "related")


@dataclass(frozen=True)
class PRule:
    """One rule. `family` 4 or 6 when an address pins it, else None (both)."""

    chain: str
    verdict: str  # "return", "drop" or "jump <chain>"
    comment: str | None = None
    iif: str | None = None
    iif_neg: bool = False
    oif: str | None = None
    oif_neg: bool = False
    src: Net | None = None
    dst: Net | None = None
    proto: str | None = None
    dport: int | None = None
    orig_dport: int | None = None
    ctstate: tuple[str, ...] | None = None

    @property
    def family(self) -> int | None:
        for net in (self.src, self.dst):
            if net is not None:
                return net.version
        return None

    def in_family(self, version: int) -> bool:
        return self.family in (None, version)


@dataclass(frozen=True)
class Compiled:
    """The rules, in chain order, plus what the resolver warned about."""

    rules: tuple[PRule, ...]
    take_over: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def chain(self, name: str, version: int | None = None) -> tuple[PRule, ...]:
        return tuple(r for r in self.rules if r.chain == name
                     and (version is None or r.in_family(version)))
