"""Every rule has an owner; a manager's rule is named in the manager's own terms.

The fixture `tests/fixtures/owners/ufw-docker-host` is a real kernel dump: Docker 20.10's rules
of the seed 001 lab host loaded into a namespace, then the real ufw 0.36 enabled on top with
user rules and a ufw-docker style DOCKER-USER block in after.rules, then one DOCKER-USER rule
added by hand (its README says how it was made)."""

from __future__ import annotations

import json

import pytest

from nflens.analysis.owners import RuleOwners, option_pairs
from nflens.managers.firewalld import chain_role, direct_rules, zone_items
from nflens.managers.ufw import command
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

UFW_HOST = REPO / "tests" / "fixtures" / "owners" / "ufw-docker-host"
LAB = REPO / "tests" / "fixtures" / "lab"


@pytest.fixture(scope="module")
def owners() -> RuleOwners:
    return RuleOwners(read_snapshot(UFW_HOST))


def _owner(owners, text: str):
    for t in owners.host.ruleset.tables:
        for c in t.chains:
            for r in c.rules:
                if r.text == text:
                    return owners.of(r)
    raise AssertionError(f"no rule {text!r}")


def test_a_ufw_user_rule_is_named_as_the_ufw_command_with_its_user_rules_line(owners):
    o = _owner(owners, "-A ufw-user-input -s 10.99.0.0/24 -p tcp -m tcp --dport 80 -j ACCEPT")
    assert (o.kind, o.says, o.config) == (
        "ufw", "ufw allow in proto tcp from 10.99.0.0/24 to any port 80",
        "etc/ufw/user.rules:21")


def test_a_ufw_route_rule_is_a_ufw_route_command(owners):
    o = _owner(owners, "-A ufw-user-forward -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT")
    assert o.says == "ufw route allow proto tcp from any to 172.17.0.2 port 80"


def test_the_docker_user_block_of_after_rules_belongs_to_ufw(owners):
    o = _owner(owners, "-A DOCKER-USER -j ufw-user-forward")
    assert (o.kind, o.config) == ("ufw", "etc/ufw/after.rules:37")


def test_a_rule_added_by_hand_belongs_to_the_admin(owners):
    assert _owner(owners, "-A DOCKER-USER -s 198.51.100.7/32 -j DROP").kind == "admin"


@pytest.mark.parametrize("text", [
    "-A FORWARD -j DOCKER-USER", "-A FORWARD -o docker0 -j DOCKER",
    "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
    "-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"])
def test_dockers_rules_belong_to_docker(owners, text):
    assert _owner(owners, text).kind == "docker"


def test_ufws_own_plumbing_belongs_to_ufw(owners):
    assert _owner(owners, "-A INPUT -j ufw-before-input").kind == "ufw"
    assert _owner(owners, "-A ufw-skip-to-policy-input -j DROP").kind == "ufw"


def test_the_manager_is_detected(owners):
    assert owners.managers == ("ufw",)


def test_a_general_file_line_does_not_claim_a_more_specific_rule():
    general, specific = option_pairs("-A X -p tcp --dport 80 -j ACCEPT"), \
        option_pairs("-A X -s 10.0.0.0/8 -p tcp -m tcp --dport 80 -j ACCEPT")
    assert general < specific
    assert option_pairs("-A X ! -s 1.2.3.4/32 -j DROP") != option_pairs("-A X -s 1.2.3.4 -j DROP")


@pytest.mark.parametrize("tuple_text,cmd", [
    ("allow tcp 80 0.0.0.0/0 any 10.99.0.0/24 in",
     "ufw allow in proto tcp from 10.99.0.0/24 to any port 80"),
    ("route:allow tcp 80 172.17.0.2 any 0.0.0.0/0 in_eth1!out_docker0",
     "ufw route allow in on eth1 out on docker0 proto tcp from any to 172.17.0.2 port 80"),
    # ufw 0.36 refuses a typed bare `in` on a route rule (lab: "Invalid interface clause")
    ("route:allow tcp 80 172.17.0.2 any 0.0.0.0/0 in",
     "ufw route allow proto tcp from any to 172.17.0.2 port 80"),
    ("limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in", "ufw limit in proto tcp from any to any port 22"),
    ("allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in comment=776562207569",
     "ufw allow in proto tcp from any to any port 8080 comment 'web ui'"),
    ("allow_log any 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in",
     "ufw allow in log from any to any app OpenSSH"),
    ("deny udp 53 ::/0 any 2001:db8::/32 out_eth0",
     "ufw deny out on eth0 proto udp from 2001:db8::/32 to any port 53"),
])
def test_ufw_tuples_read_back_as_the_command_that_made_them(tuple_text, cmd):
    assert command(tuple_text) == cmd


def test_firewalld_chain_names_say_zone_and_hook():
    assert chain_role("filter_IN_public_allow") == ("IN", "public", "zone")
    assert chain_role("filter_FWD_policy_docker-forwarding") == ("FWD", "docker-forwarding",
                                                                 "policy")
    assert chain_role("filter_INPUT_ZONES") is None


def test_firewalld_zone_file_items_in_firewalld_terms():
    xml = """<?xml version="1.0" encoding="utf-8"?>
<zone><short>Public</short><service name="ssh"/><port port="8000" protocol="tcp"/>
<interface name="eth1"/>
<rule family="ipv4"><source address="10.99.0.5"/><port port="8080" protocol="tcp"/><accept/></rule>
</zone>"""
    items = zone_items("etc/firewalld/zones/public.xml", xml)
    assert [i.says for i in items] == [
        "service ssh", "port 8000/tcp", "interface eth1",
        'rich rule: rule family="ipv4" source address="10.99.0.5" port port="8080" '
        'protocol="tcp" accept']
    assert items[3].address == "10.99.0.5" and items[3].port == "8080"
    assert zone_items("x.xml", "<zone><") == []  # broken XML is no item, not a crash


def test_firewalld_direct_rules_with_their_lines():
    xml = """<?xml version="1.0" encoding="utf-8"?>
<direct>
  <rule ipv="ipv4" table="filter" chain="DOCKER-USER" priority="0">-s 10.99.0.0/24 -j RETURN</rule>
  <passthrough ipv="ipv4">-I DOCKER-USER -j DROP</passthrough>
</direct>"""
    rules = direct_rules("etc/firewalld/direct.xml", xml)
    assert [(r.chain, r.args, r.line) for r in rules] == [
        ("DOCKER-USER", "-s 10.99.0.0/24 -j RETURN", 3), ("DOCKER-USER", "-j DROP", 4)]


def test_check_json_names_the_owner_of_each_rule_step(tmp_path, capsys):
    from nflens.cli.main import _register, app

    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps({"flows": [
        {"name": "wan", "from": {"iface": "eth1", "src": "198.51.100.7"},
         "to": {"addr": "198.51.100.1", "port": 8080, "proto": "tcp"}}]}))
    _register()
    with pytest.raises(SystemExit):
        app(["check", "--snapshot", str(UFW_HOST), str(flows), "--json"])
    (res,) = json.loads(capsys.readouterr().out)["results"]
    assert res["verdict"] == "deny"
    assert res["stopped_at"]["owner"] == "admin"
    rules = [s for s in res["path"] if s["step"] == "rule"]
    assert rules and all(s["owner"] in ("docker", "ufw", "admin") for s in rules)


# A real firewalld 1.3 (nftables backend) in a lab namespace: zones public (eth1) and internal
# (eth0), a rich rule for 8080 from one address, port 8000, a direct INPUT rule, and one nft
# table `inet handmade` added by hand.
FIREWALLD_HOST = REPO / "tests" / "fixtures" / "owners" / "firewalld-host"


@pytest.fixture(scope="module")
def fw_owners() -> RuleOwners:
    return RuleOwners(read_snapshot(FIREWALLD_HOST))


def test_a_firewalld_rich_rule_is_named_with_its_zone_file_line(fw_owners):
    o = _owner(fw_owners, "ip saddr 198.51.100.5 tcp dport 8080 accept")
    assert o.kind == "firewalld"
    assert o.says == ('firewalld zone public: rich rule: rule family="ipv4" source '
                      'address="198.51.100.5" port port="8080" protocol="tcp" accept')
    assert o.config == "etc/firewalld/zones/public.xml:8"


def test_a_firewalld_port_and_its_services(fw_owners):
    assert _owner(fw_owners, "tcp dport 8000 accept").says == "firewalld zone public: port 8000/tcp"
    services = [fw_owners.of(r) for t in fw_owners.host.ruleset.tables for c in t.chains
                if c.name == "filter_IN_public_allow"
                for r in c.rules if r.text == "tcp dport 22 accept"]
    assert services[0].says.startswith("firewalld zone public: one of its services (ssh,")


def test_a_firewalld_direct_rule_belongs_to_firewalld(fw_owners):
    o = _owner(fw_owners, "-A INPUT -s 10.99.0.0/24 -p tcp -m tcp --dport 9000 -j ACCEPT")
    assert (o.kind, o.config) == ("firewalld", "etc/firewalld/direct.xml:3")


def test_a_hand_made_nft_table_belongs_to_the_admin(fw_owners):
    assert _owner(fw_owners, "tcp dport 9999 drop").kind == "admin"
    assert fw_owners.managers == ("firewalld",)


def test_not_persistent_never_reports_firewalld_s_generated_rules():
    """Regression: every firewalld host got `not-persistent` for `jump mangle_PREROUTING_ZONES`,
    the first rule of firewalld's own table (firewalld rebuilds it at every start)."""
    from nflens.analysis.audit import audit

    found = [f for f in audit(read_snapshot(FIREWALLD_HOST), verify=False)["findings"]
             if f["id"] == "not-persistent"]
    texts = [r["text"] for f in found for r in f["rules"]]
    assert texts == ["tcp dport 9999 drop"]
    assert all(r["owner"] == "admin" for f in found for r in f["rules"])


def test_ufw_rule_generation_is_what_the_real_ufw_wrote():
    """Every allow/deny/reject tuple of the fixture's user.rules (written by the real ufw 0.36)
    generates exactly the lines ufw wrote under it."""
    from nflens.managers.ufw import generated, rules_lines

    text = (UFW_HOST / "persist" / "etc" / "ufw" / "user.rules").read_text()
    by_tuple: dict[int, list[str]] = {}
    rules = {}
    for rl in rules_lines("etc/ufw/user.rules", text):
        if rl.rule is not None:
            by_tuple.setdefault(rl.rule.line, []).append(rl.text)
            rules[rl.rule.line] = rl.rule
    checked = 0
    for line, rule in rules.items():
        gen = generated(rule.parsed)
        if gen:
            assert gen == by_tuple[line], rule.tuple
            checked += 1
    assert checked >= 3


def test_input_bypass_on_a_ufw_host_speaks_ufw_and_its_ufw_fix_is_verified():
    """Real ufw and dockerd in the lab: the admin wrote `ufw allow from 10.99.0.0/24 to any port
    80 proto tcp`; Docker publishes 80 (tomcat:8080) and the WAN reaches it anyway. The finding
    names that ufw rule and fixes it the ufw way (after.rules DOCKER-USER block + `ufw route
    allow`), verified on the simulator."""
    from nflens.analysis.audit import audit

    result = audit(read_snapshot(LAB / "ufw_docker-broken"))
    (f,) = [f for f in result["findings"] if f["subject"] == "tcp/0.0.0.0:80->tomcat:8080"]
    assert "`ufw allow in proto tcp from 10.99.0.0/24 to any port 80` " \
           "(etc/ufw/user.rules:21)" in f["explanation"]
    assert [(r["owner"], r["owner_config"]) for r in f["rules"]] == [
        ("ufw", "etc/ufw/user.rules:21")]
    assert "ufw route allow proto tcp from 10.99.0.0/24 to 172.17.0.0/16 port 8080" in f["fix"]
    assert "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL " \
           "-j DROP" in f["fix"]
    assert "iptables -I" not in f["fix"] and "\nufw reload\n" in f["fix"]
    assert f["fix_verified"] is True


def test_the_after_rules_block_declares_every_ufw_chain_it_jumps_to():
    """ufw-init restores after.rules before user.rules, each with `iptables-restore -n`: a
    jump to ufw-user-forward that the block does not declare makes the real `ufw reload` fail
    ("Chain 'ufw-user-forward' does not exist", lab, issue 13)."""
    from nflens.analysis.audit import audit

    for f in audit(read_snapshot(LAB / "ufw_docker-broken"))["findings"]:
        lines = f["fix"].splitlines()
        if "*filter" in lines:
            block = lines[lines.index("*filter"):lines.index("COMMIT")]
            declared = {t[1:].split()[0] for t in block if t.startswith(":")}
            jumps = {t.split("-j ")[1].split()[0] for t in lines if t.startswith("-A DOCKER-USER")}
            assert {j for j in jumps if j.startswith("ufw-")} <= declared, f["id"]


def test_a_ufw_route_rule_on_the_port_is_the_admin_speaking_about_it():
    """ufw-docker's DOCKER-USER hands connections to ufw-user-forward; the admin's
    `ufw route allow proto tcp from any to 172.17.0.2 port 80` there opens web:80 (published as
    8080) on purpose: no bypass is reported for it."""
    from nflens.analysis.audit import audit

    assert not [f for f in audit(read_snapshot(UFW_HOST))["findings"] if f["id"] == "input-bypass"]


def test_every_fix_on_a_ufw_host_is_written_into_ufw_s_files():
    from nflens.analysis.audit import audit

    for host in (UFW_HOST, LAB / "ufw_docker-broken", LAB / "ufw_docker-ufw-docker"):
        for f in audit(read_snapshot(host))["findings"]:
            assert "iptables -I" not in f["fix"] and "iptables -A" not in f["fix"], f["id"]


def test_a_container_port_equal_to_another_published_port_hides_no_bypass():
    """Regression (real ufw lab host, Docker 20.10): web's hairpin MASQUERADE
    (`-s 172.17.0.2 -d 172.17.0.2 --dport 80`) was taken for the admin's nat rule on the
    published port 80 of tomcat, and the WAN's access to tomcat went unreported."""
    from nflens.analysis.audit import audit

    found = {f["subject"] for f in audit(read_snapshot(LAB / "ufw_docker-broken"))["findings"]
             if f["id"] == "input-bypass"}
    assert found == {"tcp/0.0.0.0:80->tomcat:8080", "tcp/0.0.0.0:8080->web:80"}


def test_ufw_fixes_of_several_ports_compose_into_one_block():
    """Each finding's lines say where they go in the one DOCKER-USER block; applied together
    (the audit's batch verification) they fix every port at once."""
    from nflens.analysis.audit import audit

    fixes = [f for f in audit(read_snapshot(LAB / "ufw_docker-broken"))["findings"]
             if f["id"] == "input-bypass"]
    assert all(f["fix_verified"] for f in fixes)
    assert any("together with the 1 other fixes" in f["verification"] for f in fixes)
    assert all("# once: append a DOCKER-USER block to /etc/ufw/after.rules" in f["fix"]
               for f in fixes)


def test_a_rich_rule_in_the_wrong_zone_is_named_as_admitting_nobody_there():
    """Real firewalld lab host: the rich rule for 8080 from the LAN sits in zone public (the
    WAN's); LAN connections arrive in zone internal, so it admits nobody, and the finding says
    which firewalld rule names the port."""
    from nflens.analysis.audit import audit

    (f,) = [f for f in audit(read_snapshot(LAB / "firewalld_zones-rich-rule"))["findings"]
            if f["subject"] == "tcp/0.0.0.0:8080->proxy:8080"]
    assert 'firewalld zone public: rich rule: rule family="ipv4" source address="10.99.0.0/24" ' \
           'port port="8080" protocol="tcp" accept` (etc/firewalld/zones/public.xml:7)' \
        in f["explanation"]
    assert f["fix"].startswith("firewall-cmd --permanent --direct --add-rule ipv4 mangle "
                               "FORWARD 0 ") and f["fix_verified"] is True


def test_a_firewalld_fix_is_direct_rules_in_mangle_forward_not_docker_user():
    """Lab (firewalld 1.3.3, Docker 20.10): after `firewall-cmd --reload` Docker re-inserts its
    ACCEPT rules at filter FORWARD's top and `-j DOCKER-USER` after them, so direct rules in
    DOCKER-USER (or a direct jump to it) stop working until dockerd restarts. mangle FORWARD
    is untouched by Docker: the fix goes there, still verified on the simulator."""
    from nflens.analysis.audit import audit

    findings = [f for f in audit(read_snapshot(LAB / "firewalld_zones-rich-rule"))["findings"]
                if f["id"] == "input-bypass"]
    assert findings
    for f in findings:
        rules = [t for t in f["fix"].splitlines() if "--add-rule" in t]
        assert rules and all(" ipv4 mangle FORWARD " in t for t in rules)
        assert "DOCKER-USER" not in f["fix"] and f["fix_verified"] is True
