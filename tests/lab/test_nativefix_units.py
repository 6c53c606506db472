"""lab/nativefix.py without a lab: the ufw fix texts nflens audit prints for the real ufw lab
host, placed into after.rules as the text says (issue 13)."""

from __future__ import annotations

import pytest

from nflens.analysis.audit import audit
from nflens.errors import ToolError
from nflens.lab.nativefix import edit_after_rules, parse_ufw
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"


def test_all_the_broken_ufw_hosts_fixes_go_into_one_block_in_order():
    host = read_snapshot(LAB / "ufw_docker-broken")
    fixes = [f["fix"] for f in audit(host)["findings"] if f.get("fix")]
    text = dict(host.persist)["etc/ufw/after.rules"]
    for fix in fixes:
        text = edit_after_rules(text, parse_ufw(fix))
    block = text[text.index("# BEGIN NFLENS"):text.index("# END NFLENS")].splitlines()
    rules = [t for t in block if t.startswith("-A DOCKER-USER")]
    assert text.count("# BEGIN NFLENS") == 1
    assert rules.count("-A DOCKER-USER -j ufw-user-forward") == 1
    assert rules[-1] == "-A DOCKER-USER -j RETURN"
    # the direct-access drops were placed "as its first lines", before the jump
    assert rules[0].startswith("-A DOCKER-USER -d 172.17.0.") and "! --ctstate DNAT" in rules[0]
    assert rules.index("-A DOCKER-USER -j ufw-user-forward") < rules.index(
        "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j DROP")
    assert ":ufw-user-forward - [0:0]" in block
    assert any(c.startswith("ufw route allow proto tcp from 10.99.0.0/24")
               for c in parse_ufw(fixes[0]).commands)


def test_a_line_with_no_place_is_refused():
    with pytest.raises(ToolError):
        parse_ufw("iptables -I DOCKER-USER 1 -j DROP")
    with pytest.raises(ToolError):
        edit_after_rules("*filter\nCOMMIT\n", parse_ufw(
            "# then in that block, as its first lines:\n-A DOCKER-USER -j DROP"))


def test_the_ipv6_fixes_go_into_after6_rules_with_the_ufw6_jump():
    """Docker 28 + ufw in the lab (issue 14): the IPv6 fix's block goes to after6.rules and
    jumps to ufw6-user-forward; the IPv4 one to after.rules, ufw-user-forward."""
    host = read_snapshot(LAB / "docker28" / "ufw_ipv6-broken")
    fixes = {f["subject"]: f["fix"] for f in audit(host)["findings"]
             if f["id"] == "input-bypass"}
    v4, v6 = parse_ufw(fixes["tcp/0.0.0.0:8080->web:80"]), parse_ufw(fixes["tcp/:::8080->web:80"])
    assert (v4.path, v6.path) == ("/etc/ufw/after.rules", "/etc/ufw/after6.rules")
    files = dict(host.persist)
    text6 = edit_after_rules(files["etc/ufw/after6.rules"], v6)
    block = text6[text6.index("# BEGIN NFLENS"):].splitlines()
    assert ":ufw6-user-forward - [0:0]" in block and "ufw-user-forward" not in text6
    rules = [t for t in block if t.startswith("-A DOCKER-USER")]
    assert rules == ["-A DOCKER-USER -j ufw6-user-forward",
                     "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080 "
                     "--ctdir ORIGINAL -j DROP", "-A DOCKER-USER -j RETURN"]
    assert "ufw6" not in edit_after_rules(files["etc/ufw/after.rules"], v4)


def test_right_after_the_ufw6_jump_places_the_lines_after_it():
    text = ("*filter\n:ufw6-user-forward - [0:0]\n:DOCKER-USER - [0:0]\n"
            "-A DOCKER-USER -j ufw6-user-forward\n-A DOCKER-USER -j RETURN\nCOMMIT\n")
    fix = parse_ufw("# in the DOCKER-USER block of /etc/ufw/after6.rules (`:DOCKER-USER` at "
                    "line 3), right after its `-A DOCKER-USER -j ufw6-user-forward`:\n"
                    "-A DOCKER-USER -i eth1 -j DROP")
    assert fix.path == "/etc/ufw/after6.rules"
    out = edit_after_rules(text, fix).splitlines()
    assert out[3:6] == ["-A DOCKER-USER -j ufw6-user-forward", "-A DOCKER-USER -i eth1 -j DROP",
                        "-A DOCKER-USER -j RETURN"]
