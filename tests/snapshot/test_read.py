"""Reading a snapshot directory (CONTRACT §2) into a Host."""

from __future__ import annotations

import ipaddress
import shutil

import pytest

from nflens.errors import ParseError, SnapshotError
from nflens.snapshot import read_snapshot
from nflens.snapshot.read import KNOWN_FILES


@pytest.fixture
def copy(tmp_path, example_snapshot):
    """A writable copy of the example snapshot."""
    dst = tmp_path / "snap"
    shutil.copytree(example_snapshot, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def test_example_interfaces_bridge_membership_and_veth_peers(example_snapshot):
    host = read_snapshot(example_snapshot)
    names = [i.name for i in host.interfaces]
    assert names[:4] == ["lo", "eth0", "eth1", "docker0"]
    assert host.interface("docker0").kind == "bridge"
    ports = [i for i in host.interfaces if i.master == "docker0"]
    assert len(ports) == 2 and all(p.kind == "veth" and p.peer_netns for p in ports)
    eth0 = host.interface("eth0")
    assert eth0 is not None
    assert ipaddress.ip_interface("10.99.0.1/24") in [a.interface for a in eth0.addresses]
    assert host.interface("eth1").addresses[0].ip == ipaddress.ip_address("198.51.100.1")


def test_example_container_shop_publishes_8080_to_80(example_snapshot):
    docker = read_snapshot(example_snapshot).docker
    shop = docker.container("shop")
    assert shop.running and shop.name == "shop"
    assert shop.endpoints[0].ipv4 == ipaddress.ip_interface("172.17.0.2/16")
    assert shop.endpoints[0].network == "bridge"
    assert {(p.host_ip, p.host_port, p.container_port, p.proto) for p in shop.ports} == {
        ("0.0.0.0", 8080, 80, "tcp"), ("::", 8080, 80, "tcp")}
    bridge = docker.network("bridge")
    assert bridge.bridge == "docker0" and bridge.icc and bridge.masquerade
    assert bridge.subnets == (ipaddress.ip_network("172.17.0.0/16"),)
    assert docker.daemon.userland_proxy and docker.daemon.version.startswith("20.10")


def test_example_sockets_routes_rules_sysctls(example_snapshot):
    host = read_snapshot(example_snapshot)
    socks = {(s.proto, str(s.addr), s.port, s.process, s.dual_stack) for s in host.sockets}
    assert ("tcp", "0.0.0.0", 8080, "docker-proxy", False) in socks
    assert ("tcp", "::", 8080, "docker-proxy", False) in socks
    assert ("tcp", "::", 8000, "busybox", True) in socks  # `*:8000`: dual-stack
    assert any(r.table == "local" and r.type == "local" for r in host.routes)
    assert len(host.routes) == len(set(host.routes))
    assert [p.priority for p in host.policy_rules] == [0, 32766, 32767]
    assert host.sysctl("net.ipv4.ip_forward") == "1"
    assert "sysctl.txt" in host.files and "iptables-save.txt" in host.files


def test_example_ruleset_is_merged_without_counting_a_rule_twice(example_snapshot):
    host = read_snapshot(example_snapshot)
    appends = sum(line.startswith("-A ") for name in ("iptables-save.txt", "ip6tables-save.txt")
                  for line in (example_snapshot / name).read_text().splitlines())
    ip_tables = [(t.family, t.name) for t in host.ruleset.tables if t.family == "ip"]
    assert sorted(ip_tables) == [("ip", "filter"), ("ip", "nat")]  # once each
    native = sum(len(c.rules) for t in host.ruleset.tables if t.origin == "nft" for c in t.chains)
    assert host.ruleset.rule_count() == appends + native
    assert any("taken from iptables-save.txt only" in a for a in host.assumptions)


def test_a_missing_file_becomes_an_assumption(copy):
    for name in ("sysctl.txt", "ss.txt", "docker-containers.json", "ip-route.json"):
        (copy / name).unlink()
    host = read_snapshot(copy)
    text = "\n".join(host.assumptions)
    assert "no sysctl.txt: assumed net.ipv4.ip_forward=1" in text
    assert "no ss.txt" in text and "no docker-containers.json" in text
    assert "no ip-route.json" in text
    assert "sysctl.txt" not in host.files and host.docker.containers == ()


def test_a_one_file_directory_reads_with_an_assumption_for_every_other_file(tmp_path):
    """Was: an empty directory reads this way. CONTRACT §6 (issue 29.4) makes a directory with
    no snapshot file bad input; one file is enough for a hand-made partial snapshot."""
    (tmp_path / "ss.txt").write_text("")
    host = read_snapshot(tmp_path)
    assert host.files == ("ss.txt",) and host.interfaces == ()
    assert len(host.assumptions) >= 10


def test_an_empty_directory_is_not_a_snapshot(tmp_path):
    with pytest.raises(SnapshotError, match="no snapshot file found"):
        read_snapshot(tmp_path)


def test_a_directory_that_does_not_exist_is_a_snapshot_error(tmp_path):
    with pytest.raises(SnapshotError, match="does-not-exist"):
        read_snapshot(tmp_path / "does-not-exist")


@pytest.mark.parametrize("name, content, line", [
    ("ip-addr.json", '[{"ifname": "eth0",\n "addr_info": [}]', 2),
    ("docker-containers.json", "[1, 2]", 1),  # the line of the wrong entry (issue 16.10)
    ("ip-route.json", '[{"dst": "10.0.0.0/33"}]', None),
    ("ss.txt", "tcp LISTEN 0 4096 0.0.0.0:http 0.0.0.0:*\n", 1),
    ("sysctl.txt", "net.ipv4.ip_forward = 1\nthis is not a sysctl\n", 2),
    ("ebtables-save.txt", "*filter\n:INPUT ACCEPT\n-A INPUT -p Bogus\n", 3),
    ("daemon.json", "[]", None),
])
def test_a_malformed_file_is_an_error_naming_it(copy, name, content, line):
    (copy / name).write_text(content)
    with pytest.raises(ParseError) as info:
        read_snapshot(copy)
    assert info.value.file.endswith(name)
    assert info.value.line == line
    assert name in str(info.value)


def test_persist_folder_is_read_by_relative_path(copy):
    (copy / "persist" / "etc").mkdir(parents=True)
    (copy / "persist" / "etc" / "nftables.conf").write_text("flush ruleset\n")
    host = read_snapshot(copy)
    assert ("etc/nftables.conf", "flush ruleset\n") in host.persist
    assert "persist/etc/nftables.conf" in host.files


def test_bridge_name_of_a_user_network_defaults_to_br_and_the_id(copy):
    import json

    nets = json.loads((copy / "docker-networks.json").read_text())
    nets.append({"Name": "backend", "Id": "0123456789abcdef0123", "Driver": "bridge",
                 "IPAM": {"Config": [{"Subnet": "172.30.0.0/24"}]},
                 "Options": {"com.docker.network.bridge.enable_icc": "false"}, "Internal": True})
    (copy / "docker-networks.json").write_text(json.dumps(nets))
    host = read_snapshot(copy)
    net = host.docker.network("backend")
    assert net.bridge == "br-0123456789ab" and not net.icc and net.internal
    assert net.gateways == (ipaddress.ip_address("172.30.0.1"),)
    assert any("backend" in a and "172.30.0.1" in a for a in host.assumptions)


def test_ebtables_nf_tables_tables_are_not_taken_twice_from_nft(copy):
    import json

    nft = json.loads((copy / "nft.json").read_text())
    nft["nftables"] += [
        {"table": {"family": "bridge", "name": "filter", "handle": 9}},
        {"chain": {"family": "bridge", "table": "filter", "name": "INPUT", "handle": 1,
                   "type": "filter", "hook": "input", "prio": -200, "policy": "accept"}},
        {"rule": {"family": "bridge", "table": "filter", "chain": "INPUT", "handle": 2,
                  "expr": [{"match": {"op": "==", "left": {"meta": {"key": "protocol"}},
                                      "right": "arp"}}, {"drop": None}]}}]
    (copy / "nft.json").write_text(json.dumps(nft))
    (copy / "ebtables-save.txt").write_text(
        "# Generated by ebtables-save v1.8.9 (nf_tables) on x\n*filter\n:INPUT ACCEPT\n"
        ":FORWARD ACCEPT\n:OUTPUT ACCEPT\n-A INPUT -p ARP -j DROP\n")
    host = read_snapshot(copy)
    bridge = [t for t in host.ruleset.tables if t.family == "bridge"]
    assert [(t.name, t.origin) for t in bridge] == [("filter", "ebtables")]


def test_known_files_are_the_contract_files():
    assert "ebtables-save.txt" in KNOWN_FILES and "docker-version.json" in KNOWN_FILES


def test_ipset_save_is_read_and_its_timeouts_are_an_assumption(tmp_path):
    from nflens.snapshot.collect import COMMANDS

    assert ("ipset-save.txt", ["ipset", "save"]) in COMMANDS  # collect and the script
    (tmp_path / "ipset-save.txt").write_text(
        "create ban hash:ip family inet timeout 600\nadd ban 192.0.2.7 timeout 42\n")
    host = read_snapshot(tmp_path)
    assert host.ipsets is not None and host.ipsets[0].entries[0].timeout == 42
    assert "ipset-save.txt" in host.files
    assert any("timeout" in a and "ban" in a for a in host.assumptions)


def test_a_permanent_ipset_entry_is_no_timeout_assumption(tmp_path):
    """`timeout 0` (fail2ban's iptables-ipset bans, `ipsettime = 0`) never expires: the
    assumption said they "expire later" before."""
    (tmp_path / "ipset-save.txt").write_text(
        "create f2b-web hash:ip family inet timeout 0\nadd f2b-web 192.0.2.7 timeout 0\n")
    host = read_snapshot(tmp_path)
    assert not any("f2b-web" in a for a in host.assumptions)


def test_a_bad_ipset_save_line_is_file_line(tmp_path):
    (tmp_path / "ipset-save.txt").write_text("create ban hash:ip family inet\nadd ban nope\n")
    with pytest.raises(ParseError) as exc:
        read_snapshot(tmp_path)
    assert str(exc.value).startswith(f"{tmp_path / 'ipset-save.txt'}:2: ")
