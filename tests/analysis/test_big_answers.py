"""Readability of big answers (issue 29.7): "anywhere except ..." when that is the shorter
list, a down interface (ifb0) never shown as a way in, and a host with no firewall at all
reported as a finding with a verified fix."""

from __future__ import annotations

import ipaddress as ip
import json

from nflens.analysis.audit import audit
from nflens.analysis.partition import readable, subtract
from nflens.snapshot.read import read_snapshot
from tests.inprocess import edit_json, lab_copy, run_main

# `ip -j -d link show` of this machine's ifb0 (the ifb module loaded, never set up)
IFB0 = {"ifindex": 9, "ifname": "ifb0", "flags": ["BROADCAST", "NOARP"], "mtu": 1500,
        "qdisc": "noop", "operstate": "DOWN", "linkmode": "DEFAULT", "group": "default",
        "txqlen": 32, "link_type": "ether", "address": "06:e7:0a:2b:a3:d9",
        "broadcast": "ff:ff:ff:ff:ff:ff", "linkinfo": {"info_kind": "ifb"}}


def _spans(*nets: str) -> list[tuple[int, int]]:
    return [(int(n.network_address), int(n.broadcast_address)) for n in map(ip.ip_network, nets)]


PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def test_all_but_a_few_ranges_reads_as_anywhere_except():
    allowed = subtract([(0, 2**32 - 1)], _spans(*PRIVATE))
    assert readable({4: allowed}) == ["anywhere except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"]
    # with IPv6 listed too, the version is named
    assert readable({4: allowed, 6: [(0, 2**128 - 1)]}) == [
        "any IPv4 address except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16", "::/0"]


def test_a_few_ranges_stay_a_list_and_the_hosts_own_address_is_no_exception():
    assert readable({4: _spans("10.0.0.0/8", "192.168.0.0/16")}) == \
        ["10.0.0.0/8", "192.168.0.0/16"]
    own = int(ip.ip_address("198.51.100.1"))
    allowed = subtract([(0, 2**32 - 1)], _spans(*PRIVATE) + [(own, own)])
    assert readable({4: allowed}, {4: [own]}) == \
        ["anywhere except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"]


def _with_ifb0(tmp_path):
    snap = lab_copy(tmp_path)
    edit_json(snap / "ip-link.json", lambda links: links.append(IFB0))
    return snap


def test_a_down_interface_is_listed_as_down_with_no_source(tmp_path):
    out = json.loads(run_main("audit", "--snapshot", _with_ifb0(tmp_path), "--json").out)
    ifb = [r for e in out["exposure"] for r in e["reachable_from"] if r["iface"] == "ifb0"]
    assert ifb and all(r["down"] is True and r["sources"] == [] for r in ifb)
    others = [r for e in out["exposure"] for r in e["reachable_from"] if r["iface"] != "ifb0"]
    assert others and not any("down" in r for r in others)
    text = run_main("audit", "--snapshot", _with_ifb0(tmp_path / "t")).out
    assert "ifb0      │ down: not reachable while down" in text


def _no_firewall(tmp_path, keep_files: bool = True):
    """seed 001's host with Docker gone and every ruleset file empty: busybox httpd on *:8000
    is the one service left."""
    snap = lab_copy(tmp_path)
    for name in ("docker-containers.json", "docker-networks.json", "docker-info.json",
                 "docker-version.json", "daemon.json"):
        (snap / name).unlink()
    for name in ("iptables-save.txt", "ip6tables-save.txt", "ebtables-save.txt", "nft.json"):
        if keep_files:
            (snap / name).write_text("" if name != "nft.json" else '{"nftables": []}')
        else:
            (snap / name).unlink()
    return snap


def test_a_host_with_no_rules_at_all_has_a_no_firewall_finding_with_a_verified_fix(tmp_path):
    result = audit(read_snapshot(_no_firewall(tmp_path)))
    (f,) = [f for f in result["findings"] if f["id"] == "no-firewall"]
    assert f["severity"] == "high"  # 198.51.100.0/24 stands for the internet
    assert "tcp/:::8000 (busybox) on eth1 from 198.51.100.0/24" in f["explanation"]
    assert "iptables -A INPUT -s 198.51.100.0/24 -i eth1 -p tcp -m tcp --dport 8000 -j ACCEPT" \
        in f["fix"] and f["fix"].splitlines()[-2] == "iptables -A INPUT -j DROP"
    assert f["fix_verified"] is True, f["verification"]


def test_no_firewall_is_not_claimed_when_the_ruleset_files_are_missing(tmp_path):
    result = audit(read_snapshot(_no_firewall(tmp_path, keep_files=False)))
    assert "no-firewall" not in {f["id"] for f in result["findings"]}


def test_a_drop_policy_with_no_rule_is_a_firewall(tmp_path):
    snap = _no_firewall(tmp_path)
    (snap / "iptables-save.txt").write_text("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n"
                                            ":OUTPUT ACCEPT [0:0]\nCOMMIT\n")
    result = audit(read_snapshot(snap))
    assert "no-firewall" not in {f["id"] for f in result["findings"]}


def test_the_no_firewall_fix_leaves_each_service_to_its_own_lan(tmp_path):
    """The fix applied: the service is reachable from the interface's network only, and no
    port is reached without a rule deciding (what `still_there` checks)."""
    from nflens.analysis.context import AuditContext
    from nflens.analysis.findings import Finding, no_firewall
    from nflens.analysis.fixes import apply
    from nflens.analysis.placement import realize

    host = read_snapshot(_no_firewall(tmp_path))
    ctx = AuditContext(host)
    (finding,) = no_firewall.detect(ctx)
    fixed = AuditContext(apply(host, realize(ctx, finding.fix, finding.subject)))
    assert no_firewall.still_there(fixed, Finding("x", "high", "", "", "")) is None
    (_, exposure), = fixed.sockets
    reach = {r.iface: r.sources() for r in exposure.reach}
    assert all(ip.ip_network(c).subnet_of(ip.ip_network("198.51.100.0/24"))
               for c in reach["eth1"])
    assert "no-firewall" not in {f.id for f in no_firewall.detect(fixed)}
