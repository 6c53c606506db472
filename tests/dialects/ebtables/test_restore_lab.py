"""Round trip through the real tools: generate -> ebtables-restore -> ebtables-save -> parse.

Runs in a throwaway network namespace (never the root one) and deletes it afterwards.
"""

from __future__ import annotations

import subprocess

import pytest

from nflens.dialects.ebtables import generate, parse
from tests.conftest import scratch_netns
from tests.dialects.ebtables.test_parse import SEED_000, shape

# Rules this kernel's nf_tables bridge family accepts (checked with ebtables 1.8.9 nf_tables).
RICH = (
    """\
*filter
:INPUT ACCEPT
:FORWARD DROP
:OUTPUT ACCEPT
:MYCH RETURN
-A INPUT -p ARP --arp-ip-src 10.213.213.213 --arp-ip-dst 10.0.0.0/8 -j ACCEPT
-A INPUT -p ARP --arp-op Request --arp-mac-src 02:00:00:00:00:01 --arp-gratuitous -j ACCEPT
-A FORWARD -s 02:42:ac:00:00:00/ff:ff:ff:00:00:00 -d ! Broadcast -o eth0 -j ACCEPT
-A FORWARD -p IPv4 --ip-src ! 10.0.0.0/8 --ip-proto tcp --ip-dport 22:80 -j MYCH
-A FORWARD -p IPv4 --ip-tos 0x10 --ip-proto icmp --ip-icmp-type 1/1 -j ACCEPT
"""
    "-A FORWARD -p IPv6 --ip6-src ! dead::/64 --ip6-proto ipv6-icmp "
    "--ip6-icmp-type echo-request -j ACCEPT\n"
    """\
-A FORWARD -p 802_1Q --vlan-id 4 -j mark --mark-set 0x10 --mark-target CONTINUE
-A FORWARD -p ! IPv6 --among-src 2:0:0:0:0:1=10.0.0.1,2:0:0:0:0:2 -j CONTINUE
-A FORWARD --limit 3/min --limit-burst 3 --nflog-prefix "x" --nflog-group 5 -j CONTINUE
-A FORWARD --mark 0x1/0xff -j ACCEPT
-A FORWARD -p Length --802_3-sap 0x42 -j DROP
-A MYCH -p IPv4 --ip-proto udp --ip-sport 1024:65535 -j DROP
*nat
:PREROUTING ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
-A PREROUTING -i eth0 -j dnat --to-dst de:ad:00:be:ee:ff --dnat-target ACCEPT
-A PREROUTING -p ARP --arp-op Request -j arpreply --arpreply-mac 02:00:00:00:00:09
-A PREROUTING -p IPv4 -j redirect --redirect-target RETURN
-A POSTROUTING -j snat --to-src de:ad:00:be:ee:ff --snat-arp --snat-target ACCEPT
""")


@pytest.fixture
def netns():
    with scratch_netns("nflens-eb", "ebtables-restore", "ebtables-save") as name:
        yield name


def _in_ns(ns: str, argv: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(["ip", "netns", "exec", ns] + argv, input=stdin, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.lab
@pytest.mark.parametrize("text", [SEED_000, RICH], ids=["seed-000", "rich"])
def test_generated_rules_restore_and_save_back_to_the_same_ir(netns, text):
    rs = parse(text)
    _in_ns(netns, ["ebtables-restore"], generate(rs))
    saved = _in_ns(netns, ["ebtables-save"])
    back = parse(saved, "ebtables-save")
    assert shape(back) == shape(rs)
    assert back.backend in ("nf_tables", "legacy")
