"""The persist/ folder: what decides the firewall after a reboot is copied, nothing else."""

from __future__ import annotations

from nflens.snapshot.persist import collect_persist
from nflens.snapshot.read import read_snapshot


def test_firewall_units_and_configs_are_copied_others_not(tmp_path):
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/iptables").mkdir(parents=True)
    (root / "etc/nftables.conf").write_text("flush ruleset\n")
    (root / "etc/iptables/rules.v4").write_text("*filter\n-A DOCKER-USER -j DROP\nCOMMIT\n")
    (root / "etc/systemd/system/fw.service").write_text(
        "[Service]\nExecStart=/usr/sbin/iptables -I DOCKER-USER -j DROP\n")
    (root / "etc/systemd/system/web.service").write_text("[Service]\nExecStart=/usr/bin/nginx\n")
    snap = tmp_path / "snap"
    copied = collect_persist(snap, root)
    assert sorted(copied) == ["etc/iptables/rules.v4", "etc/nftables.conf",
                              "etc/systemd/system/fw.service"]
    host = read_snapshot(snap)
    assert dict(host.persist)["etc/nftables.conf"] == "flush ruleset\n"


def test_firewalld_direct_rules_and_ufw_defaults_are_copied(tmp_path):
    """Lab (firewalld_zones-direct-docker-user): `firewall-cmd --permanent --direct` writes
    /etc/firewalld/direct.xml, and ufw's forward policy lives in /etc/default/ufw; neither was
    collected, so a persisted DOCKER-USER rule looked lost after a reboot."""
    root = tmp_path / "root"
    (root / "etc/firewalld/zones").mkdir(parents=True)
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/firewalld/direct.xml").write_text(
        '<direct><rule ipv="ipv4" table="filter" chain="DOCKER-USER" priority="0">-i eth1 -j DROP'
        '</rule></direct>\n')
    (root / "etc/firewalld/zones/internal.xml").write_text('<zone><interface name="eth0"/></zone>')
    (root / "etc/default/ufw").write_text('DEFAULT_FORWARD_POLICY="DROP"\n')
    copied = collect_persist(tmp_path / "snap", root)
    assert sorted(copied) == ["etc/default/ufw", "etc/firewalld/direct.xml",
                              "etc/firewalld/zones/internal.xml"]
