"""fffuu's IP assignment files (`nflens matrix --ipassmt`), read by symbolic/matrix.py."""

from __future__ import annotations

import ipaddress

import pytest

from nflens.errors import ParseError
from nflens.symbolic.matrix import parse_ipassmt

TOP6 = 2**128 - 1


def test_all_but_those_ips_of_a_low_ipv6_range_is_taken_in_the_ipv6_space():
    """::1:0:0 is 2**32 as a number: the family used to be guessed from the numbers (`> 2**32`)
    and the complement taken in the IPv4 space, so the interface stood for 0.0.0.0/0 -- the
    text says IPv6."""
    low = int(ipaddress.ip_address("::1:0:0"))
    assert parse_ipassmt("wan = all_but_those_ips [::1:0:0/128]") == {
        "wan": [(0, low - 1), (low + 1, TOP6)]}
    assert parse_ipassmt("wan = all_but_those_ips [::/96]") == {"wan": [(2**32, TOP6)]}


def test_ipv4_lists_and_their_complement():
    got = parse_ipassmt("lan = [10.0.0.0/8, 192.168.0.1-192.168.0.9]\n"
                        "wan = all_but_those_ips [10.0.0.0/8]  # the rest\n")
    ten = int(ipaddress.ip_address("10.0.0.0"))
    assert got["lan"] == [(ten, ten + 2**24 - 1), (3232235521, 3232235529)]
    assert got["wan"] == [(0, ten - 1), (ten + 2**24, 2**32 - 1)]


def test_a_bad_address_is_named_at_its_line():
    with pytest.raises(ParseError) as err:
        parse_ipassmt("lan = [10.0.0.0/8]\nwan = [10.0.0.300]\n", "ipassmt.txt")
    assert "10.0.0.300" in str(err.value) and err.value.line == 2

