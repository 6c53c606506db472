"""Chain priorities: nft's named priorities and their numbers.

nft(8), "CHAIN PRIORITY": a base chain's priority may be written as a number or as a name with an
optional offset ("filter - 10", "dstnat + 5"). The names stand for the classic netfilter
priorities (include/uapi/linux/netfilter_ipv4.h, NF_IP_PRI_*), except in the bridge family where
they stand for NF_BR_PRI_* (include/uapi/linux/netfilter_bridge.h):

    name      ip/ip6/inet/arp/netdev   bridge
    raw       -300                     -
    mangle    -150                     -
    dstnat    -100                     -300
    filter       0                     -200
    security    50                     -
    out          -                      100
    srcnat     100                      300
"""

from __future__ import annotations

import re

INET_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50,
                   "srcnat": 100}
BRIDGE_PRIORITIES = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}

_NAMED = re.compile(r"^\s*([a-z]+)\s*(?:([+-])\s*(\d+))?\s*$")


def priority_value(value: int | str, family: str) -> int:
    """The number a priority stands for: an int, a numeric string, or "name [+|- N]".

    Raises ValueError for a name the family does not define (nft rejects those too)."""
    if isinstance(value, bool):
        raise ValueError(f"bad priority {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    m = _NAMED.match(text)
    if not m:
        raise ValueError(f"bad priority {value!r}")
    table = BRIDGE_PRIORITIES if family == "bridge" else INET_PRIORITIES
    if m.group(1) not in table:
        raise ValueError(f"priority {m.group(1)!r} is not defined for family {family}")
    base = table[m.group(1)]
    if m.group(2):
        base += int(m.group(3)) * (1 if m.group(2) == "+" else -1)
    return base


def priority_name(value: int, family: str) -> str:
    """nft's spelling of a number: the name when one matches exactly, else the number."""
    table = BRIDGE_PRIORITIES if family == "bridge" else INET_PRIORITIES
    for name, number in table.items():
        if number == value:
            return name
    return str(value)
