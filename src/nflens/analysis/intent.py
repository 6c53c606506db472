"""What a fix must do, as IR: the rules a finding wants, and where in the packet's decision they
must act — not in which chain or which language (that is a placement's: analysis/placement/).

A `FixRule` is a rule in the IR's x_tables vocabulary (ir/rules.py `XtMatch`/`Opt` matches and
one `Action`, the same objects the iptables parser yields) plus its place in the decision:
- `Where.FORWARD`: on the forward path, after DNAT, before the container runtime's own accept
  (a published port's connections, a container's traffic). iptables: DOCKER-USER; nftables:
  a base chain on the forward hook that runs before Docker's (placement/nft.py).
- `Where.INPUT`: packets for the host itself (input hook).
- `Where.AT`: in one existing chain of the host (`table`, `chain`, at `position`), in that
  chain's own dialect: a rule of the admin's rewritten, deleted, or one inserted before the
  rule it must beat. `text` is then the rule in that dialect when it is derived from the
  admin's own text (kept as they wrote it).

`position` is 1-based where the rule goes among the other rules of its place (0: at the end);
rules of one intent keep their order. Option values are kept as the fix writes them
(`ctstate` "RELATED,ESTABLISHED" in that order), so every placement renders the same words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from nflens.ir.rules import Action, Opt, XtMatch


class Where(enum.Enum):
    FORWARD = "forward"
    INPUT = "input"
    AT = "at"


@dataclass(frozen=True)
class FixRule:
    where: Where
    family: str  # ip / ip6 / bridge
    exprs: tuple[XtMatch | Action, ...] = ()
    position: int = 1
    table: str = "filter"  # Where.AT only
    chain: str = ""  # Where.AT only
    delete: bool = False  # Where.AT only: delete the rule at `position`
    text: str | None = None  # Where.AT only: the rule in the chain's dialect, as written
    dialect: str = ""  # Where.AT only: "nft" for a chain of a native nft table

    @property
    def action(self) -> Action | None:
        last = self.exprs[-1] if self.exprs else None
        return last if isinstance(last, Action) else None


def ip(src: Any = None, dst: Any = None, iface: str | None = None, proto: str | None = None,
       not_iface: bool = False) -> XtMatch:
    """The built-in part of a rule (-s, -d, -i, -p), in that order."""
    opts = [Opt(name, value, name == "in" and not_iface)
            for name, value in (("src", src), ("dst", dst), ("in", iface), ("proto", proto))
            if value is not None]
    return XtMatch("ip", tuple(opts))


def ports(proto: str, dport: int | None = None, sport: int | None = None) -> XtMatch:
    """`-m tcp|udp [--sport N] [--dport N]`."""
    opts = [Opt(name, (v, v)) for name, v in (("sport", sport), ("dport", dport))
            if v is not None]
    return XtMatch(proto, tuple(opts))


def ct(*opts: Opt) -> XtMatch:
    """`-m conntrack` with its options in the order given."""
    return XtMatch("conntrack", opts)


def state(states: str, negated: bool = False) -> Opt:
    return Opt("ctstate", states, negated)


def origdstport(port: int | None) -> Opt:
    return Opt("ctorigdstport", (port, port))


def origdst(addr: str) -> Opt:
    return Opt("ctorigdst", addr)


ORIGINAL = Opt("ctdir", "ORIGINAL")


def act(name: str) -> Action:
    return Action(name)


def forward(family: str, *exprs: XtMatch | Action, position: int = 1) -> FixRule:
    return FixRule(Where.FORWARD, family, exprs, position)


def host_input(family: str, *exprs: XtMatch | Action, position: int = 1) -> FixRule:
    return FixRule(Where.INPUT, family, exprs, position)


def at(family: str, table: str, chain: str, position: int, *exprs: XtMatch | Action,
       text: str | None = None) -> FixRule:
    return FixRule(Where.AT, family, exprs, position, table, chain, text=text)


def at_nft(family: str, table: str, chain: str, index: int | None,
           *exprs: XtMatch | Action) -> FixRule:
    """A rule in a chain of a native nft table, before its rule `index` (1-based; None: at the
    end, before the chain's policy)."""
    return FixRule(Where.AT, family, exprs, index or 0, table, chain, dialect="nft")


def delete(family: str, table: str, chain: str, position: int) -> FixRule:
    return FixRule(Where.AT, family, (), position, table, chain, delete=True)


@dataclass(frozen=True)
class PortGuard:
    """The published port whose forwarded connections a fix's rules filter, the interfaces
    where they admit too much, and the rule's matches without interface and verdict: what a
    firewall manager needs to say the same in its own rules (placement/ufw.py)."""

    published: Any  # analysis.context.Published
    ifaces: tuple[str, ...]
    matches: tuple[XtMatch, ...]
