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
