"""NAT bindings from DNAT/SNAT/MASQUERADE/REDIRECT actions (net/netfilter/nf_nat_core.c,
xt_nat.c, xt_MASQUERADE.c via nf_nat_masquerade.c, xt_REDIRECT.c via nf_nat_redirect.c).

A binding rewrites the entry's reply tuple; the packet itself is then rewritten by
`conntrack.apply_manip`. Ranges take their lowest address and port: the kernel picks the
first free one, and for one flow on an idle host that is the lowest (or the original port
when it lies inside the range, which nf_nat_core keeps when it can).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.ir.rules import Action
from nflens.kernel.conntrack import Entry, Tuple


def _first_addr(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        value = value[0]
    if isinstance(value, str):
        value = value.strip("[]")
        return ipaddress.ip_address(value)
    return value


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
            new_dst = _first_addr(action.get("addr")) or entry.orig.dst
        new_port = _port(action.get("port"), entry.orig.dport)
        new = Tuple(new_dst, r.dst, new_port, r.dport)
        if new != r:  # nf_nat_setup_info sets IPS_DST_NAT only when the tuple changes
            entry.status.add("DNAT")
        entry.reply = new
        return "dst"
    if name in ("snat", "masquerade"):
        new_src = oif_addr if name == "masquerade" else _first_addr(action.get("addr"))
        if new_src is None:
            return None
        new_port = _port(action.get("port"), entry.orig.sport)
        new = Tuple(r.src, new_src, r.sport, new_port)
        if new != r:  # an identity mapping (MASQUERADE to the address it has) sets no bit
            entry.status.add("SNAT")
        entry.reply = new
        return "src"
    return None
