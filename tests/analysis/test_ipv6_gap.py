"""The IPv6 gap: IPv4 narrowed by DOCKER-USER, IPv6 wide open for the same published port.

Built from the real seed 001 "fixed" snapshot (IPv4: the WAN is dropped by a DOCKER-USER
--ctorigdstport rule) with IPv6 added the way Docker publishes it with ip6tables: global
addresses, the container's IPv6 address, Docker's ip6tables rules — and no DOCKER-USER rule
for IPv6. Adding the IPv6 counterpart makes the finding go away.
"""

from __future__ import annotations

import json
import shutil

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

BASE = REPO / "tests" / "fixtures" / "lab" / "seed001_input_bypass-fixed"

IP6TABLES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s fd00::/64 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00::2]:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER -d fd00::2/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
{user}-A DOCKER-USER -j RETURN
COMMIT
"""


def _snapshot(tmp_path, user6: str = ""):
    snap = tmp_path / "s"
    shutil.copytree(BASE, snap)
    addrs = json.loads((snap / "ip-addr.json").read_text())
    extra = {"eth0": "2001:db8:a::1", "eth1": "2001:db8:b::1", "docker0": "fd00::1"}
    for link in addrs:
        if link["ifname"] in extra:
            link["addr_info"].append({"family": "inet6", "local": extra[link["ifname"]],
                                      "prefixlen": 64, "scope": "global"})
    (snap / "ip-addr.json").write_text(json.dumps(addrs))
    routes = json.loads((snap / "ip6-route.json").read_text())
    for dev, net in (("eth0", "2001:db8:a::/64"), ("eth1", "2001:db8:b::/64"),
                     ("docker0", "fd00::/64")):
        routes.append({"dst": net, "dev": dev, "protocol": "kernel", "flags": []})
    for addr, dev in (("2001:db8:a::1", "eth0"), ("2001:db8:b::1", "eth1"),
                      ("fd00::1", "docker0")):
        routes.append({"type": "local", "dst": addr, "dev": dev, "table": "local",
                       "protocol": "kernel", "flags": []})
    (snap / "ip6-route.json").write_text(json.dumps(routes))
    containers = json.loads((snap / "docker-containers.json").read_text())
    ep = containers[0]["NetworkSettings"]["Networks"]["bridge"]
    ep.update(GlobalIPv6Address="fd00::2", GlobalIPv6PrefixLen=64, IPv6Gateway="fd00::1")
    (snap / "docker-containers.json").write_text(json.dumps(containers))
    (snap / "ip6tables-save.txt").write_text(IP6TABLES.replace("{user}", user6))
    (snap / "nft.json").unlink(missing_ok=True)
    sysctl = (snap / "sysctl.txt").read_text()  # Docker turns IPv6 forwarding on with ip6tables
    (snap / "sysctl.txt").write_text(sysctl.replace("net.ipv6.conf.all.forwarding = 0",
                                                    "net.ipv6.conf.all.forwarding = 1"))
    return read_snapshot(snap)


def _gaps(host):
    return [f for f in audit(host)["findings"] if f["id"] == "ipv6-gap"]


def test_ipv4_narrowed_ipv6_open_is_reported(tmp_path):
    gaps = _gaps(_snapshot(tmp_path))
    assert [g["subject"] for g in gaps] == ["tcp/8080->web on eth1"]
    assert "2001:db8:b::" in gaps[0]["explanation"]


def test_the_ipv6_counterpart_closes_it(tmp_path):
    rule = "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080 -j DROP\n"
    assert _gaps(_snapshot(tmp_path, rule)) == []


def test_ipv4_sources_an_ipset_leaves_uncertain_are_said_uncertain_not_nowhere(tmp_path):
    """Issue 25: a `-m set` ban without ipset-save.txt left every IPv4 source uncertain, and
    the finding said IPv4 was "reachable from nowhere"."""
    _snapshot(tmp_path)
    snap = tmp_path / "s"
    rules = (snap / "iptables-save.txt").read_text()
    old = "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080 -j DROP"
    assert old in rules
    (snap / "iptables-save.txt").write_text(
        rules.replace(old, "-A DOCKER-USER -m set --match-set ban src -j DROP"))
    gaps = _gaps(read_snapshot(snap))
    assert gaps
    for g in gaps:
        assert "reachable from nowhere)" not in g["explanation"]
        assert "uncertain from" in g["explanation"] and "ipset ban" in g["explanation"]
