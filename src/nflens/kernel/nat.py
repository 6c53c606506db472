"""NAT bindings from DNAT/SNAT/MASQUERADE/REDIRECT actions (net/netfilter/nf_nat_core.c,
xt_nat.c, xt_MASQUERADE.c via nf_nat_masquerade.c, xt_REDIRECT.c via nf_nat_redirect.c).

A binding rewrites the entry's reply tuple; the packet itself is then rewritten by
`conntrack.apply_manip`. An address range takes the address find_best_ips_proto hashes the
connection to (kernel/natpick.py). A port range keeps the original port when it lies inside
(get_unique_tuple keeps an in-range unique tuple) and otherwise takes the lowest: for DNAT
nf_nat_l4proto_unique_tuple starts at offset 0; for SNAT it starts at a random offset, so the
lowest is only one of the ports it may take (the verdict rarely depends on a source port).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.ir.rules import Action
from nflens.kernel.conntrack import Entry, Tuple
from nflens.kernel.natpick import pick

IPS = (ipaddress.IPv4Address, ipaddress.IPv6Address)


def _addr(value: Any) -> Any:
    if isinstance(value, str):
        return ipaddress.ip_address(value.strip("[]"))
    return value


def _range_addr(action: Action, entry: Entry, manip: str) -> Any:
    """The address of the action's range for this connection (None: the action has none).
    The tuple hashed is the inverse of the current reply: the original source, and the
    destination as a DNAT already made it."""
    value = action.get("addr")
    if value is None:
        return None
    if not isinstance(value, tuple):
        return _addr(value)
    lo, hi = _addr(value[0]), _addr(value[1])
    if lo == hi or not isinstance(lo, IPS) or not isinstance(hi, IPS) or lo.version != hi.version:
        return lo
    flags = action.get("flags") or ()
    src = entry.reply.dst
    if manip == "src" and _keeps_source(action, flags, lo, hi, src, entry.reply.dport):
        return src
    persistent = bool(action.get("persistent")) or "persistent" in flags
    return pick(lo, hi, src, entry.reply.src, manip, persistent)


def _keeps_source(action: Action, flags: Any, lo: Any, hi: Any, src: Any,
                  sport: int | None) -> bool:
    """get_unique_tuple step 1: an SNAT whose range already holds the connection's source
    (address, and port when the range gives ports) keeps it, unless the range is random."""
    if action.get("random") or action.get("random_fully") or \
            {"random", "fully-random"} & set(flags):
        return False
    if src.version != lo.version or not lo <= src <= hi:
        return False
    ports = action.get("port")
    return ports is None or sport is None or ports[0] <= sport <= ports[1]


def _port(value: Any, original: int | None) -> int | None:
    if value is None or original is None:
        return original
    if isinstance(value, int):
        return value
    lo, hi = value
    return original if lo <= original <= hi else lo


def bind(entry: Entry, action: Action, hook: str, oif_addr: Any = None,
         iif_addr: Any = None) -> str | None:
    """Apply `action` to `entry`'s reply tuple. Returns the manip type bound, or None when the
    action cannot be carried out (e.g. MASQUERADE on an interface with no address)."""
    r = entry.reply
    name = action.name
    if name == "dnat" or name == "redirect":
        if name == "redirect":
            # REDIRECT: to the primary address of the incoming interface, 127.0.0.1 for OUTPUT
            new_dst = iif_addr
            if new_dst is None:
                return None
        else:
            new_dst = _range_addr(action, entry, "dst") or entry.orig.dst
        new_port = _port(action.get("port"), entry.orig.dport)
        new = Tuple(new_dst, r.dst, new_port, r.dport)
        if new != r:  # nf_nat_setup_info sets IPS_DST_NAT only when the tuple changes
            entry.status.add("DNAT")
        entry.reply = new
        return "dst"
    if name in ("snat", "masquerade"):
        new_src = oif_addr if name == "masquerade" else _range_addr(action, entry, "src")
        if new_src is None:
            return None
        new_port = _port(action.get("port"), entry.orig.sport)
        new = Tuple(r.src, new_src, r.sport, new_port)
        if new != r:  # an identity mapping (MASQUERADE to the address it has) sets no bit
            entry.status.add("SNAT")
        entry.reply = new
        return "src"
    return None
