"""Connection tracking: entries with original and reply tuples, states and NAT bindings.

Facts from net/netfilter/nf_conntrack_core.c and nf_nat_core.c that the model relies on:
- Conntrack runs at priority -200 in PREROUTING and OUTPUT (after raw, before mangle/nat).
  A packet that raw marked NOTRACK is UNTRACKED; before -200 a packet has no entry at all.
- The first packet creates an entry whose reply tuple is the inverse of the original; NAT
  rewrites the *reply* tuple, which is how later packets and replies are translated without
  consulting any nat chain again ("NAT chains see only the first packet").
- A packet whose entry exists in the reply direction is ESTABLISHED (status SEEN_REPLY).
- Locally generated packets looped back keep their entry: PREROUTING on `lo` does not look up
  again ("Previously seen (loopback or untracked)? Ignore." in nf_conntrack_in).
The table is a plain value: `simulate` threads it through and returns it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from nflens.ir.packet import Packet
from nflens.kernel.context import CtView

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Tuple:
    src: IPAddress
    dst: IPAddress
    sport: int | None
    dport: int | None

    def inverse(self) -> Tuple:
        return Tuple(self.dst, self.src, self.dport, self.sport)

    def __str__(self) -> str:
        """Written once per tuple (kept beside the fields, which stay frozen): every hook's
        trace step describes the same entry again."""
        text = self.__dict__.get("_text")
        if text is None:
            text = self.__dict__["_text"] = f"{_ep(self.src, self.sport)} -> " \
                f"{_ep(self.dst, self.dport)}"
        return text


def _ep(a: ipaddress.IPv4Address | ipaddress.IPv6Address, p: int | None) -> str:
    host = f"[{a}]" if a.version == 6 else str(a)
    return f"{host}:{p}" if p is not None else host


def tuple_of(pkt: Packet) -> Tuple:
    return Tuple(pkt.src, pkt.dst, pkt.sport, pkt.dport)


@dataclass
class Entry:
    """One connection. `nat_done` holds the manip types ("src", "dst") already bound."""

    proto: str
    orig: Tuple
    reply: Tuple
    status: set[str] = field(default_factory=set)
    mark: int = 0
    nat_done: set[str] = field(default_factory=set)

    def describe(self) -> str:
        flags = ",".join(sorted(self.status)) or "-"
        return f"{self.proto} orig {self.orig} | reply {self.reply} [{flags}]"


class Conntrack:
    """The connection table of one simulated host."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def lookup(self, pkt: Packet) -> tuple[Entry, str] | None:
        t = tuple_of(pkt)
        for e in self.entries:
            if e.proto != pkt.proto:
                continue
            if e.orig == t:
                return e, "ORIGINAL"
            if e.reply == t:
                return e, "REPLY"
        return None

    def create(self, pkt: Packet) -> Entry:
        t = tuple_of(pkt)
        entry = Entry(pkt.proto, t, t.inverse())
        self.entries.append(entry)
        return entry


CANNOT_START = ("no entry and this packet cannot start one (a TCP SYN/ACK, RST or FIN, an ICMP "
                "reply): INVALID, and no NAT applies")


def can_start(pkt: Packet) -> bool:
    """Whether a packet with no entry creates one (nf_conntrack_proto_tcp.c tcp_new(): from
    state NONE a SYN starts a connection and, with nf_conntrack_tcp_loose=1 (the default), a
    bare ACK picks one up; a SYN/ACK, RST or FIN is invalid. ICMP replies are invalid too
    (icmp_new() accepts only requests). Found by differential fuzzing: the SYN/ACK answering
    an untracked SYN is INVALID and escapes the nat table."""
    if pkt.proto == "tcp":
        flags = pkt.tcp_flags
        return not (flags & {"RST", "FIN"}) and flags != frozenset({"SYN", "ACK"})
    if pkt.proto == "icmp" and pkt.icmp_type is not None:
        return pkt.icmp_type in (8, 13, 15, 17)  # echo, timestamp, info, address mask
    if pkt.proto == "icmpv6" and pkt.icmp_type is not None:
        return pkt.icmp_type in (128, 139)  # echo request, node information query
    return True


def state_of(entry: Entry, direction: str, related: bool = False) -> str:
    """The ctstate of a tracked packet of `entry` in `direction` (RELATED, ESTABLISHED, NEW)."""
    if related:
        return "RELATED"
    if direction == "REPLY" or "SEEN_REPLY" in entry.status:
        return "ESTABLISHED"
    return "NEW"


def view(entry: Entry | None, direction: str, untracked: bool = False,
         related: bool = False) -> CtView | None:
    """What ctstate/ct matches see for a packet belonging to `entry` in `direction`."""
    if untracked:
        return CtView(state="UNTRACKED")
    if entry is None:
        return None
    state = state_of(entry, direction, related)
    status = frozenset(s for s in entry.status if s in
                       {"SNAT", "DNAT", "CONFIRMED", "SEEN_REPLY", "ASSURED", "EXPECTED"})
    return CtView(
        state=state, status=status, direction=direction, proto=entry.proto,
        orig_src=entry.orig.src, orig_dst=entry.orig.dst, orig_sport=entry.orig.sport,
        orig_dport=entry.orig.dport, reply_src=entry.reply.src, reply_dst=entry.reply.dst,
        reply_sport=entry.reply.sport, reply_dport=entry.reply.dport, mark=entry.mark)


def apply_manip(pkt: Packet, entry: Entry, direction: str, manip: str) -> Packet:
    """Rewrite `pkt` as NAT does at a hook of manip type "src" or "dst" (nf_nat_packet):
    a packet of one direction must arrive looking like the inverse of the other direction."""
    target = entry.reply.inverse() if direction == "ORIGINAL" else entry.orig.inverse()
    if manip == "dst":
        dport = target.dport if pkt.dport is not None else None
        if pkt.dst == target.dst and pkt.dport == dport:
            return pkt  # a null binding: the very same packet (callers test `is`)
        return replace(pkt, dst=target.dst, dport=dport)
    sport = target.sport if pkt.sport is not None else None
    if pkt.src == target.src and pkt.sport == sport:
        return pkt
    return replace(pkt, src=target.src, sport=sport)
