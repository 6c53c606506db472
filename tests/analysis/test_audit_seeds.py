"""`audit` on the lab snapshots of each seed story, on every Docker version the lab runs (20.10,
26, 28): the broken variant reports the finding the story is about, the fixed variant no more;
and every fix given as rules is verified."""

from __future__ import annotations

import shutil
from functools import cache

import pytest

from nflens.analysis.audit import audit
from nflens.lab import versions
from nflens.lab.matrix import fixture_dir, version_dirs
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"
ALL_DIRS = [d for ds in version_dirs(LAB).values() for d in ds]

STORIES = [
    # (finding, reported on, not reported on)
    ("unreachable-published-port", ["seed000_web2-broken", "seed000_web2-docker-user-fixed-only"],
     ["seed000_web2-fixed"]),
    ("input-bypass", ["seed001_input_bypass-broken", "seed001_input_bypass-wrong-port"],
     ["seed001_input_bypass-fixed", "seed001_input_bypass-fixed-container-port"]),
    ("egress-blocks-replies", ["seed003_egress-broken", "seed004_dnat_port-fixed-naive"],
     ["seed003_egress-fixed", "seed003_egress-fixed-ctdir", "seed003_egress-none"]),
    ("dnat-dead-rule", ["seed004_dnat_port-broken", "seed001_input_bypass-wrong-port"],
     ["seed004_dnat_port-fixed", "seed001_input_bypass-fixed"]),
    ("input-bypass", ["seed004_dnat_port-broken"], ["seed004_dnat_port-fixed"]),
    ("nat-filter-proxy-bypass", ["seed004_dnat_port-nat-filter"],
     ["seed004_dnat_port-nat-filter-noproxy", "seed004_dnat_port-nat-filter-input",
      "seed004_dnat_port-fixed"]),
    ("unreachable-published-port", ["seed005_nft_priority-broken",
                                     "seed005_nft_priority-broken-prio-10",
                                     "seed005_nft_priority-broken-prio-minus10"],
     ["seed005_nft_priority-fixed", "seed005_nft_priority-accept-docker0"]),
]


@cache
def _audit(name: str, key: str = versions.DEFAULT) -> dict:
    return audit(read_snapshot(fixture_dir(LAB, key, name)))


def _ids(name: str, key: str = versions.DEFAULT) -> set[str]:
    return {f["id"] for f in _audit(name, key)["findings"]}


@pytest.mark.parametrize("key", versions.KEYS)
@pytest.mark.parametrize("finding,broken,fixed", STORIES,
                         ids=[s[0] + ":" + s[1][0] for s in STORIES])
def test_story_finding_is_reported_then_gone(finding, broken, fixed, key):
    for name in broken:
        assert finding in _ids(name, key), name
    for name in fixed:
        assert finding not in _ids(name, key), name


@pytest.mark.parametrize("snap", ALL_DIRS, ids=[str(d.relative_to(LAB)) for d in ALL_DIRS])
def test_every_fix_made_of_rules_is_verified(snap):
    key = snap.parent.name.removeprefix("docker") if snap.parent != LAB else versions.DEFAULT
    for f in _audit(snap.name, key)["findings"]:
        if f["fix_verified"] is not None:
            assert f["fix_verified"] is True, (f["id"], f["subject"], f["verification"])


def test_seed000_names_both_blockers_in_order_and_fixes_both():
    f = next(f for f in _audit("seed000_web2-broken")["findings"]
             if f["id"] == "unreachable-published-port" and "web2" in f["subject"])
    text = f["explanation"]
    assert text.index("DOCKER-USER") < text.index("-p ARP -j DROP")
    assert "--ctorigdstport 8080" in f["fix"] and "ebtables -I OUTPUT" in f["fix"]
    assert "ebtables -I INPUT" in f["fix"] and f["fix_verified"] is True


def test_seed004_dead_rule_fix_uses_the_original_port():
    f = next(f for f in _audit("seed004_dnat_port-broken")["findings"]
             if f["id"] == "dnat-dead-rule")
    assert f["rules"][0]["line"] > 0 and "--dport 80" in f["rules"][0]["text"]
    assert "--ctorigdstport 80 --ctdir ORIGINAL -j DROP" in f["fix"]


def test_exposure_follows_the_contract_shape():
    result = _audit("seed001_input_bypass-fixed")
    entry = next(e for e in result["exposure"] if e["host_port"] == 8080 and
                 e["host_addr"] == "0.0.0.0")
    assert entry["proto"] == "tcp" and entry["target"] == {"container": "web",
                                                          "addr": "172.17.0.2", "port": 80}
    by_iface = {r["iface"]: r["sources"] for r in entry["reachable_from"]}
    assert by_iface["eth1"] == []  # the DOCKER-USER --ctorigdstport rule drops the WAN
    assert "10.99.0.2/31" in by_iface["eth0"]


def test_persistence_read_from_the_persist_folder(tmp_path):
    snap = tmp_path / "s"
    shutil.copytree(LAB / "seed000_web2-fixed", snap)
    units = snap / "persist" / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "fw.service").write_text(
        "[Unit]\nDescription=fw\n[Service]\nType=oneshot\n"
        "ExecStart=/usr/sbin/iptables -I DOCKER-USER 1 -j DROP\n"
        "ExecStart=/usr/sbin/iptables -I DOCKER-USER 1 -m conntrack --ctstate "
        "ESTABLISHED,RELATED -j ACCEPT\n")
    (snap / "persist" / "etc" / "nftables.conf").write_text("flush ruleset\ntable inet f {}\n")
    found = {f["subject"]: f for f in audit(read_snapshot(snap))["findings"]
             if f["id"] == "not-persistent"}
    assert "etc/nftables.conf flush ruleset" in found
    assert "etc/systemd/system/fw.service ordering" in found
    lost = [r["text"] for r in found["rules in memory only"]["rules"]]
    assert "-A DOCKER-USER -j DROP" not in lost  # the unit recreates it
    assert "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" not in lost
    assert any("10.213.213.213" in r for r in lost)
    without = {f["subject"] for f in _audit("seed000_web2-fixed")["findings"]
               if f["id"] == "not-persistent"}
    assert without == {"persistence unknown"}


def test_egress_destinations_per_network_follow_the_egress_rules():
    def dests(name):
        return {(e["proto"], e["port"]): e["destinations"]
                for e in _audit(name)["egress"] if e["network"] == "bridge"}

    open_ = dests("seed003_egress-none")
    assert "198.51.100.2/31" in open_[("tcp", 443)] and "10.99.0.2/31" in open_[("udp", 53)]
    assert all(v == [] for v in dests("seed003_egress-broken").values())
    assert all(v == [] for v in dests("seed003_egress-fixed").values())


@pytest.mark.parametrize("key", versions.KEYS)
@pytest.mark.parametrize("variant", ["proxy", "noproxy", "forward-drop"])
def test_direct_container_access_is_reported_where_the_kernel_let_the_lan_in(key, variant):
    """docker_versions: Docker 20.10 and 26 let a LAN client route straight to a container's
    address (all of them with FORWARD ACCEPT, the published one with DROP); Docker 28's raw
    table refuses it. The finding names exactly the containers the kernel let in."""
    import json

    name = f"docker_versions-{variant}"
    kernel = json.loads((fixture_dir(LAB, key, name) / "expected.json").read_text())["expected"]
    let_in = {c for c in ("web", "idle") if kernel[f"lan-{c}-direct"] == "allow"}
    found = {f["subject"].split()[1] for f in _audit(name, key)["findings"]
             if f["id"] == "direct-container-access"}
    assert found == let_in
    assert (let_in == set()) == (key == "28")


def test_blocker_search_checks_loadability_once_not_once_per_blocker(monkeypatch):
    """The blocker search simulates the host again without each blocker it finds; a ruleset
    with rules taken away stays loadable, so only the host's own ruleset is checked. Checking
    every derived one walked the whole ruleset per blocker per port (quadratic audit, 2,000
    containers: 5.3 s of 45)."""
    from ipaddress import ip_address

    import nflens.kernel.simulate as simulate
    from nflens.analysis.blockers import blockers
    from nflens.ir.packet import Endpoint, Flow

    host = read_snapshot(LAB / "seed000_web2-broken")
    calls = []
    real = simulate.check_loadable
    monkeypatch.setattr(simulate, "check_loadable", lambda rs: calls.append(rs) or real(rs))
    lan_web2 = Flow("lan-web2", Endpoint(iface="eth0", src=ip_address("10.99.0.2")),
                    ip_address("10.99.0.1"), 8080)
    found, passes = blockers(host, lan_web2)
    assert [(b.origin.startswith("ebtables"), b.chain) for b in found][:1] == \
        [(False, "DOCKER-USER")], found
    assert any(b.origin.startswith("ebtables") for b in found[1:]), found
    assert len(calls) == 1
