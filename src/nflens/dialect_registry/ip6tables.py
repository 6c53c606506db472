"""ip6tables (IPv6): `ip6tables-save` in, ip6tables-restore input out (nflens.dialects.iptables,
family ip6). Policies compile to it as part of the "iptables" dialect (policy/plan.py), so it
is no `--dialect` of its own there."""

from __future__ import annotations

import re

from nflens.dialect_registry.base import FILE_NAME, FIRST_LINE, SAVE_FORMAT, Sniff
from nflens.dialect_registry.iptables import xtables

# an IPv6 address or prefix after -s/-d/--to-destination/--to-source: only ip6tables prints one
_V6_ADDRESS = re.compile(r"^-A .*(-[sd] |--to-destination |--to-source )"
                         r"\[?[0-9a-fA-F]*:[0-9a-fA-F:]*[:/]", re.M)


def detect(s: Sniff) -> int | None:
    if "ip6tables" in s.first:
        return FIRST_LINE + 1
    if s.save_format() and (_V6_ADDRESS.search(s.text) or "icmp6" in s.text
                            or "ipv6-icmp" in s.text):
        return SAVE_FORMAT + 1
    return FILE_NAME + 1 if s.empty_named("ip6tables") else None


DIALECT = xtables("ip6tables", "ip6", detect, policy=False)
