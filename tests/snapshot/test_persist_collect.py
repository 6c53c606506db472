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


def test_fail2ban_jails_and_the_bouncer_config_are_copied_without_the_api_key(tmp_path):
    """Issue 26: the jails decide which chain and ports fail2ban bans in, the bouncer's YAML
    its iptables_chains; the bouncer's LAPI key must never leave the host."""
    root = tmp_path / "root"
    for rel, text in {
        "etc/fail2ban/jail.conf": "[DEFAULT]\nchain = <known/chain>\n",
        "etc/fail2ban/jail.local": "[sshd]\nenabled = true\n",
        "etc/fail2ban/jail.d/web.local": "[web]\nport = 8080\n",
        "etc/fail2ban/action.d/iptables.local": "[Init]\nblocktype = DROP\n",
        "etc/fail2ban/action.d/iptables.conf": "[Definition]\n",  # fail2ban's own: not copied
        "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml":
            "mode: iptables\napi_key: 0123456789abcdef\n  api_key:  \"nested\"\n"
            "iptables_chains:\n  - INPUT\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    snap = tmp_path / "snap"
    copied = collect_persist(snap, root)
    assert sorted(copied) == [
        "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml",
        "etc/fail2ban/action.d/iptables.local", "etc/fail2ban/jail.conf",
        "etc/fail2ban/jail.d/web.local", "etc/fail2ban/jail.local"]
    yaml = (snap / "persist/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml").read_text()
    assert yaml == ("mode: iptables\napi_key: REDACTED\n  api_key: REDACTED\n"
                    "iptables_chains:\n  - INPUT\n")
    assert "0123456789abcdef" not in "".join(
        p.read_text() for p in snap.rglob("*") if p.is_file())
