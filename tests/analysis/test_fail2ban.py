"""fail2ban and CrowdSec as firewall managers (issue 26): their rules are named in the jail's
terms, their bans are judged against the published ports and the host's own services, and
every fix is the jail's configuration, verified by simulating the rules fail2ban would create.

Fixtures (tests/fixtures/fail2ban, README there): fail2ban's exact rule shapes loaded into a
kernel with iptables-restore and dumped, on the seed 001 lab host (web published 8080 -> 80).
"""

from __future__ import annotations

import shutil

import pytest

from nflens.analysis import bans
from nflens.analysis.audit import audit
from nflens.analysis.context import AuditContext
from nflens.analysis.findings import ban_bypass
from nflens.analysis.fixes import Fix, apply
from nflens.analysis.owners import RuleOwners
from nflens.managers.fail2ban import bouncer_chains, jails
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

FIX = REPO / "tests" / "fixtures" / "fail2ban"
INPUT_JAILS = FIX / "input-jails"
DOCKER_USER_JAILS = FIX / "docker-user-jails"


@pytest.fixture(scope="module")
def input_audit() -> dict:
    return audit(read_snapshot(INPUT_JAILS))


@pytest.fixture(scope="module")
def docker_user_audit() -> dict:
    return audit(read_snapshot(DOCKER_USER_JAILS))


def _owner(host, text: str):
    owners = RuleOwners(host)
    rule = next(r for t in host.ruleset.tables for c in t.chains for r in c.rules
                if r.text == text)
    return owners.of(rule)


def _by_id(result: dict, fid: str) -> list[dict]:
    return [f for f in result["findings"] if f["id"] == fid]


# -- the jail files ------------------------------------------------------------------------

def test_jail_options_are_read_in_fail2bans_order_with_defaults_beneath():
    files = {
        "etc/fail2ban/jail.conf": "[DEFAULT]\nchain = INPUT\nport = 0:65535\n[sshd]\n"
                                  "port = ssh\nlogpath = %(sshd_log)s\n",
        "etc/fail2ban/jail.d/zz.local": "[sshd]\nport = 2222 ; moved\n",
        "etc/fail2ban/jail.local": "[DEFAULT]\nchain = DOCKER-USER\n[sshd]\nport = 22\n"
                                   "action = %(action_)s\n         other[name=x]\n",
        "etc/fail2ban/jail.d/a.conf": "[sshd]\nport = 1\n",
    }
    sshd = jails(files)["sshd"]
    assert sshd.get("port") == "2222"  # jail.d/*.local is read after jail.local
    assert sshd.chain == "DOCKER-USER"
    assert sshd.config() == "etc/fail2ban/jail.local:2 [DEFAULT] chain = DOCKER-USER"
    assert sshd.get("action") == "%(action_)s\nother[name=x]"


def test_the_bouncers_iptables_chains_are_read_as_a_list_or_inline():
    path = "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
    block = "mode: iptables\niptables_chains:\n  - INPUT\n#  - FORWARD\n  - DOCKER-USER\nx: 1\n"
    assert bouncer_chains({path: block}) == (["INPUT", "DOCKER-USER"], f"{path}:2")
    assert bouncer_chains({path: "iptables_chains: [INPUT, 'DOCKER-USER']\n"}) == (
        ["INPUT", "DOCKER-USER"], f"{path}:1")
    assert bouncer_chains({}) == (["INPUT"], "")


# -- owners --------------------------------------------------------------------------------

def test_a_ban_is_owned_by_its_jail_with_the_jail_files_line():
    host = read_snapshot(INPUT_JAILS)
    ban = _owner(host, "-A f2b-sshd -s 198.51.100.7/32 -j REJECT --reject-with "
                       "icmp-port-unreachable")
    assert (ban.kind, ban.says) == ("fail2ban",
                                    "fail2ban jail sshd (chain = INPUT): ban of 198.51.100.7")
    assert ban.config == "etc/fail2ban/jail.local:6 [sshd] (chain = INPUT, the default)"
    jump = _owner(host, "-A INPUT -p tcp -m multiport --dports 8080 -j f2b-nginx-http-auth")
    assert jump.kind == "fail2ban" and jump.says.endswith("the jump to its chain on ports 8080")


def test_a_jail_moved_by_default_names_the_default_line():
    host = read_snapshot(DOCKER_USER_JAILS)
    o = _owner(host, "-A DOCKER-USER -p tcp -m multiport --dports 22 -j f2b-sshd")
    assert (o.kind, o.config) == ("fail2ban",
                                  "etc/fail2ban/jail.local:3 [DEFAULT] chain = DOCKER-USER")


def _edited(src, tmp_path, old: str, new: str, extra: dict[str, str] | None = None):
    snap = tmp_path / "snap"
    shutil.copytree(src, snap)
    save = snap / "iptables-save.txt"
    text = save.read_text()
    assert old in text
    save.write_text(text.replace(old, new))
    for rel, content in (extra or {}).items():
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        (snap / rel).write_text(content)
    return read_snapshot(snap)


def test_crowdsecs_chain_and_set_rule_belong_to_the_bouncer(tmp_path):
    host = _edited(INPUT_JAILS, tmp_path, ":f2b-sshd - [0:0]\n",
                   ":f2b-sshd - [0:0]\n:CROWDSEC_CHAIN - [0:0]\n"
                   "-A CROWDSEC_CHAIN -m set --match-set crowdsec-blacklists-0 src -j DROP\n",
                   {"persist/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml":
                    "mode: iptables\napi_key: REDACTED\niptables_chains:\n  - INPUT\n"})
    o = _owner(host, "-A CROWDSEC_CHAIN -m set --match-set crowdsec-blacklists-0 src -j DROP")
    assert (o.kind, o.config) == (
        "crowdsec", "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml:3")
    assert "iptables_chains: INPUT" in o.says


# -- ban-bypass: bans in INPUT versus the published port --------------------------------------

def test_bans_in_input_do_not_cover_the_published_port(input_audit):
    found = {f["subject"]: f for f in _by_id(input_audit, "ban-bypass")}
    assert sorted(found) == ["jail nginx-http-auth tcp/0.0.0.0:8080->web:80",
                             "jail sshd tcp/0.0.0.0:8080->web:80"]
    sshd = found["jail sshd tcp/0.0.0.0:8080->web:80"]
    assert sshd["explanation"].startswith(
        "jail sshd's bans (198.51.100.7) do not cover published port tcp/8080 → web:80.")
    assert "eth1: 198.51.100.7/32" in sshd["explanation"]
    assert sshd["rules"][0]["owner"] == "fail2ban"


def test_the_fix_is_the_jails_second_action_never_todays_addresses(input_audit):
    for f in _by_id(input_audit, "ban-bypass"):
        jail = f["subject"].split()[1]
        assert f["fix"].startswith(f"# /etc/fail2ban/jail.d/{jail}-docker.local, then "
                                   f"`fail2ban-client reload --restart {jail}`\n[{jail}]\n"
                                   "action = %(action_)s\n         %(banaction)s[name="
                                   f"{jail}-docker, actname={jail}-docker, chain=DOCKER-USER")
        assert "198.51.100." not in f["fix"] and "iptables -I" not in f["fix"]
        assert f["fix_verified"] is True, f["verification"]
    nginx = next(f for f in _by_id(input_audit, "ban-bypass") if "nginx" in f["subject"])
    assert 'port="80"' in nginx["fix"]  # the container's port: DNAT rewrote 8080


def test_input_bypass_leaves_the_jails_bans_to_ban_bypass(input_audit):
    """Before issue 26 the same bans were an anonymous input-bypass with a hand rule for
    198.51.100.7 and .8 in DOCKER-USER as its fix."""
    assert _by_id(input_audit, "input-bypass") == []


def _finding(host, subject: str):
    ctx = AuditContext(host)
    return ctx, next(f for f in ban_bypass.detect(ctx) if f.subject == subject)


def test_the_simulated_jail_action_refuses_the_banned_and_admits_the_others():
    host = read_snapshot(INPUT_JAILS)
    ctx, f = _finding(host, "jail nginx-http-auth tcp/0.0.0.0:8080->web:80")
    fixed = AuditContext(apply(host, f.fix), f.scope)
    assert ban_bypass.still_there(fixed, f) is None
    p = fixed.published[0]
    reach = {r.iface: r for r in p.exposure.reach}["eth1"]
    srcs = reach.sources()
    assert not any(s.startswith("198.51.100.8/") for s in srcs)  # banned: refused
    assert {"198.51.100.4/30", "198.51.100.9/32"} <= set(srcs)  # the rest (sshd's .7 too)


def test_a_second_action_on_the_host_port_is_not_a_fix():
    """DOCKER-USER after DNAT sees port 80: a jail there on 8080 never matches."""
    host = read_snapshot(INPUT_JAILS)
    ctx, f = _finding(host, "jail nginx-http-auth tcp/0.0.0.0:8080->web:80")
    hook = next(h for h in bans.hooks(ctx) if h.jail == "nginx-http-auth")
    wrong = Fix(bans.simulated_action(hook, "x", "DOCKER-USER", "tcp", 8080))
    fixed = AuditContext(apply(host, wrong), f.scope)
    assert ban_bypass.still_there(fixed, f) == "reachable from 198.51.100.8 on eth1"


def test_with_the_ipset_action_the_bans_are_named_as_the_set(tmp_path):
    host = _edited(INPUT_JAILS, tmp_path,
                   "-A INPUT -p tcp -m multiport --dports 8080 -j f2b-nginx-http-auth\n",
                   "-A INPUT -p tcp -m multiport --dports 8080 -m set --match-set "
                   "f2b-nginx-http-auth src -j REJECT --reject-with icmp-port-unreachable\n")
    ctx = AuditContext(host)
    f = next(f for f in ban_bypass.detect(ctx) if "nginx" in f.subject)
    assert "the members of ipset f2b-nginx-http-auth" in f.explanation
    assert not f.fix.edits and "[nginx-http-auth]" in f.fix.text()


def test_a_jail_in_input_on_the_container_port_is_reported_too(tmp_path):
    """`port = 80` for web published 8080->80: in INPUT it names the host's port 80."""
    host = _edited(INPUT_JAILS, tmp_path, "--dports 8080 -j f2b-nginx-http-auth",
                   "--dports 80 -j f2b-nginx-http-auth")
    ctx = AuditContext(host)
    f = next(f for f in ban_bypass.detect(ctx) if "nginx" in f.subject)
    assert "on 80 (the container's port 80: in INPUT it is a port of the host" in f.explanation


def test_the_nftables_action_is_a_jail_too_with_its_set_as_the_bans():
    """Debian's default banaction (a real fail2ban 1.1.0 snapshot): before issue 26 this was an
    input-bypass whose fix was `iptables -I DOCKER-USER 1 -s 198.51.100.2/32 ... -j DROP`."""
    result = audit(read_snapshot(FIX / "nftables-input"))
    [f] = _by_id(result, "ban-bypass")
    assert f["explanation"].startswith("jail web's bans (198.51.100.2) do not cover published "
                                       "port tcp/8080 → web:80. The jail bans in the input hook")
    assert "chain=f2b-forward, chain_hook=forward, protocol=tcp, port=\"80\"" in f["fix"]
    assert f["fix_verified"] is True and "198.51.100.2" not in f["fix"]
    assert _by_id(result, "input-bypass") == []
    assert f["rules"][0]["owner"] == "fail2ban"


def test_crowdsecs_bouncer_in_input_only_is_named_with_its_config_fix():
    """A lab snapshot with the real crowdsec-firewall-bouncer 0.0.25 (Debian trixie), default
    iptables_chains [INPUT], one decision for 198.51.100.2 (README). Before issue 26 it was an
    input-bypass claiming INPUT refuses everyone, fixed by dropping everyone in DOCKER-USER."""
    result = audit(read_snapshot(FIX / "crowdsec-input"))
    [f] = _by_id(result, "ban-bypass")
    assert f["subject"] == "CrowdSec's bouncer tcp/0.0.0.0:8080->web:80"
    assert "the members of ipset crowdsec-blacklists" in f["explanation"]
    assert "iptables_chains:\n  - INPUT\n  - DOCKER-USER" in f["fix"]
    assert f["rules"][0]["owner"] == "crowdsec"
    assert _by_id(result, "input-bypass") == []


# -- the reverse trap, and a jail that never matches ------------------------------------------

def test_a_jail_in_docker_user_leaves_the_hosts_sshd_unprotected(docker_user_audit):
    [f] = _by_id(docker_user_audit, "ban-host-gap")
    assert f["subject"] == "jail sshd tcp/0.0.0.0:22"
    assert "its bans (198.51.100.7) still reach the host's service from: eth1: " \
           "198.51.100.7/32" in f["explanation"]
    assert "[sshd]\naction = %(action_)s\n         %(banaction)s[name=sshd-input, " \
           'actname=sshd-input, chain=INPUT, protocol=tcp, port="22"]' in f["fix"]
    assert f["fix_verified"] is True, f["verification"]


def test_a_jail_on_the_host_port_in_docker_user_never_matches(docker_user_audit):
    """The dead-port-rule finding did not see a `-m multiport --dports` jump before."""
    [f] = _by_id(docker_user_audit, "dnat-dead-rule")
    assert f["subject"] == "ip DOCKER-USER -A DOCKER-USER -p tcp -m multiport --dports 8080 " \
                           "-j f2b-web"
    assert f["explanation"].startswith("jail web's bans (198.51.100.8) never match")
    assert f["fix"].endswith("[web]\nport = 80") and f["fix_verified"] is True


def test_rules_fail2ban_recreates_are_not_reported_not_persistent(docker_user_audit):
    """Before issue 26 the jails' DOCKER-USER jumps were the admin's and `rules in memory
    only` (the persist/ folder holds no iptables file)."""
    assert _by_id(docker_user_audit, "not-persistent") == []


# -- the ipset actions, with the set's members read (lab snapshots of the real fail2ban) ------

IPSET_RULE = "-m set --match-set {} src -j REJECT --reject-with icmp-port-unreachable"


@pytest.mark.parametrize("shape, port", [("ipset-input", 'port="80"'),
                                         ("ipset-allports-input", None)])
def test_ipset_bans_are_the_sets_members_and_the_second_action_is_simulated(shape, port):
    """fail2ban 1.1.0's iptables-ipset-proto6(-allports) in INPUT (README). Before the set's
    members were read, the bans were "the members of ipset f2b-web" and the fix was not
    simulated (fix_verified None)."""
    result = audit(read_snapshot(FIX / shape))
    [f] = _by_id(result, "ban-bypass")
    assert f["explanation"].startswith("jail web's bans (198.51.100.2, in ipset f2b-web) do "
                                       "not cover published port tcp/8080 → web:80.")
    assert "eth1: 198.51.100.2/32" in f["explanation"]
    assert "chain=DOCKER-USER, protocol=tcp" in f["fix"] and "198.51.100.2" not in f["fix"]
    assert (port in f["fix"]) if port else "port=" not in f["fix"]
    assert f["fix_verified"] is True, f["verification"]
    assert _by_id(result, "input-bypass") == []


def test_the_ipset_second_action_is_the_rule_fail2ban_creates():
    host = read_snapshot(FIX / "ipset-input")
    ctx, f = _finding(host, "jail web tcp/0.0.0.0:8080->web:80")
    [edit] = f.fix.edits
    assert (edit.chain, edit.position) == ("DOCKER-USER", 1)
    assert edit.spec == "-p tcp -m multiport --dports 80 " + IPSET_RULE.format("f2b-web")


def test_an_ipset_action_on_the_host_port_in_docker_user_is_not_a_fix():
    """The same set matched on 8080 in DOCKER-USER: DNAT made it 80 before FORWARD."""
    host = read_snapshot(FIX / "ipset-input")
    ctx, f = _finding(host, "jail web tcp/0.0.0.0:8080->web:80")
    hook = next(h for h in bans.hooks(ctx) if h.jail == "web")
    wrong = Fix(bans.simulated_action(hook, "x", "DOCKER-USER", "tcp", 8080))
    fixed = AuditContext(apply(host, wrong), f.scope)
    assert ban_bypass.still_there(fixed, f) == "reachable from 198.51.100.2 on eth1"


def test_ipset_jails_in_docker_user_get_their_port_and_input_fixes():
    """jail web (iptables-ipset-proto6, port = 8080) and svc (1.1's iptables-ipset, type
    oneport: `--dport 8000`) in DOCKER-USER."""
    result = audit(read_snapshot(FIX / "ipset-docker-user"))
    [dead] = _by_id(result, "dnat-dead-rule")
    assert dead["explanation"].startswith("jail web's bans (198.51.100.2, in ipset f2b-web) "
                                          "never match")
    assert dead["fix"].endswith("[web]\nport = 80") and dead["fix_verified"] is True
    [gap] = _by_id(result, "ban-host-gap")
    assert gap["subject"] == "jail svc tcp/:::8000"
    assert 'chain=INPUT, protocol=tcp, port="8000"]' in gap["fix"]
    assert gap["fix_verified"] is True, gap["verification"]
    host = read_snapshot(FIX / "ipset-docker-user")
    ctx = AuditContext(host)
    svc = next(h for h in bans.hooks(ctx) if h.jail == "svc")
    assert svc.oneport and svc.addresses() == "198.51.100.2, in ipset f2b-svc"
    [edit] = bans.simulated_action(svc, "svc-input", "INPUT", "tcp", 8000)
    assert edit.spec == "-p tcp -m tcp --dport 8000 " + IPSET_RULE.format("f2b-svc")


def test_without_ipset_save_the_ipset_bans_stay_unknown(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(FIX / "ipset-input", snap)
    (snap / "ipset-save.txt").unlink()
    [f] = _by_id(audit(read_snapshot(snap)), "ban-bypass")
    assert "the members of ipset f2b-web" in f["explanation"]
    assert f["fix_verified"] is None


# -- CrowdSec's bouncer with its set read: iptables mode's ipset, nftables mode's own table ---

def test_the_bouncers_ipset_members_make_its_fix_simulated(tmp_path):
    """crowdsec-input with the lab's ipset-save.txt of the same run shape (the bouncer's
    crowdsec-blacklists, hash:net, one decision): the fix is the rule it inserts in DOCKER-USER."""
    snap = tmp_path / "snap"
    shutil.copytree(FIX / "crowdsec-input", snap)
    shutil.copy(FIX / "crowdsec-input-ipset-save.txt", snap / "ipset-save.txt")
    host = read_snapshot(snap)
    ctx, f = _finding(host, "CrowdSec's bouncer tcp/0.0.0.0:8080->web:80")
    assert "198.51.100.2, in ipset crowdsec-blacklists" in f.explanation
    [edit] = f.fix.edits
    assert (edit.chain, edit.position, edit.spec) == (
        "DOCKER-USER", 1, "-m set --match-set crowdsec-blacklists src -j DROP")
    result = audit(host)
    assert _by_id(result, "ban-bypass")[0]["fix_verified"] is True


def test_the_bouncers_nftables_mode_is_a_ban_on_the_input_hook():
    """The real bouncer 0.0.25, mode nftables (README): before, an input-bypass whose fix was a
    DOCKER-USER rule for 198.51.100.2."""
    result = audit(read_snapshot(FIX / "crowdsec-nftables"))
    assert _by_id(result, "input-bypass") == []
    [f] = _by_id(result, "ban-bypass")
    assert f["explanation"].startswith(
        "CrowdSec's bouncer's bans (198.51.100.2, in set crowdsec-blacklists) do not cover "
        "published port tcp/8080 → web:80. The bouncer bans in the input hook (table ip "
        "crowdsec), on all ports;")
    assert "    set-only: true" in f["fix"].splitlines() and "198.51.100.2" not in f["fix"]
    assert "chain crowdsec-chain-forward { type filter hook forward priority filter; policy " \
           "accept; ip saddr @crowdsec-blacklists drop; }" in f["fix"]
    assert f["fix_verified"] is True, f["verification"]
    assert f["rules"][0]["owner"] == "crowdsec"


def test_the_bouncers_own_table_after_the_set_only_fix_leaves_no_finding():
    result = audit(read_snapshot(FIX / "crowdsec-nftables-fixed"))
    assert _by_id(result, "ban-bypass") == [] and _by_id(result, "input-bypass") == []


def test_a_bouncer_that_names_its_chain_per_hook_gets_nftables_hooks(tmp_path):
    """0.0.26 and later name the chain crowdsec-chain-<hook> and take `nftables_hooks`."""
    snap = tmp_path / "snap"
    shutil.copytree(FIX / "crowdsec-nftables", snap)
    nft = snap / "nft.json"
    nft.write_text(nft.read_text().replace('"crowdsec-chain"', '"crowdsec-chain-input"'))
    [f] = _by_id(audit(read_snapshot(snap)), "ban-bypass")
    assert f["fix"].startswith("# /etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml, then "
                               "`systemctl restart crowdsec-firewall-bouncer`\nnftables_hooks:"
                               "\n  - input\n  - forward")
    assert f["fix_verified"] is True


def test_the_bouncers_table_is_the_one_its_yaml_names(tmp_path):
    """`nftables.ipv4.table: cs` (the bouncer's YAML in persist/): table ip cs is the bouncer's;
    before, only the default names were, and the same bans were an input-bypass with a hand
    rule for 198.51.100.2."""
    snap = tmp_path / "snap"
    shutil.copytree(FIX / "crowdsec-nftables", snap)
    nft = snap / "nft.json"
    nft.write_text(nft.read_text().replace('"table": "crowdsec"', '"table": "cs"')
                   .replace('"name": "crowdsec"', '"name": "cs"'))
    assert _by_id(audit(read_snapshot(snap)), "ban-bypass") == []  # a table of the admin's
    yaml = snap / "persist/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
    yaml.parent.mkdir(parents=True)
    yaml.write_text("mode: nftables\napi_key: REDACTED\nnftables:\n  ipv4:\n    table: cs\n")
    result = audit(read_snapshot(snap))
    [f] = _by_id(result, "ban-bypass")
    assert "(table ip cs)" in f["explanation"] and "table ip cs {" in f["fix"]
    assert f["fix_verified"] is True and _by_id(result, "input-bypass") == []
