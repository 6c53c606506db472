"""The exposure partition splits the source space at every interval end of a non-contiguous
netmask (`-s 10.0.12.0/255.0.255.0` is 256 intervals), so each part has one verdict."""

from __future__ import annotations

import ipaddress as ip

from nflens.analysis.partition import RuleLookup
from nflens.dialects import iptables


def test_a_masked_source_splits_at_each_of_its_intervals():
    rs = iptables.parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.12.0/255.0.255.0 -j DROP\n"
                        "COMMIT\n", "r.save", family="ip")
    rule = rs.tables[0].chains[0].rules[0]
    points = RuleLookup(rs).points(rule, None, 4)
    value = rule.exprs[0].opts[0].value
    starts = sorted(p for p in points if ip.ip_address(p) in value and
                    ip.ip_address(p - 1) not in value)
    assert len(starts) == 256 and starts[0] == int(ip.ip_address("10.0.12.0"))
    for p in points:  # every point is a border of the match, nothing else
        assert (ip.ip_address(p) in value) != (ip.ip_address(p - 1) in value)
