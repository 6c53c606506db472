"""The ufw fix hands a published port's connections to ufw's `ufw-user-forward` chain; on a
snapshot whose filter table has no such chain it must not print (or verify) a jump to it, but
give the DOCKER-USER form and name the missing chain (perf2, issue 14)."""

from __future__ import annotations

import shutil

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

BROKEN = REPO / "tests" / "fixtures" / "lab" / "ufw_docker-broken"


def _without(fixture, save_file: str, chain: str, tmp_path):
    """The fixture's snapshot with every line naming `chain` removed from `save_file`."""
    snap = tmp_path / "snap"
    shutil.copytree(fixture, snap)
    save = snap / save_file
    lines = save.read_text().splitlines(keepends=True)
    kept = [t for t in lines if chain not in t]
    assert len(kept) < len(lines)
    save.write_text("".join(kept))
    return read_snapshot(snap)


def _bypass_fixes(host) -> list[dict]:
    return [f for f in audit(host)["findings"] if f.get("fix") and "DROP" in f["fix"]
            and "--ctorigdstport" in f["fix"]]


def test_the_ufw_fix_is_the_route_form_where_the_chain_exists():
    fixes = _bypass_fixes(read_snapshot(BROKEN))
    assert fixes and all("-A DOCKER-USER -j ufw-user-forward" in f["fix"] for f in fixes)
    assert any("ufw route allow" in f["fix"] for f in fixes)


def test_without_ufw_user_forward_the_fix_names_the_missing_chain(tmp_path):
    fixes = _bypass_fixes(_without(BROKEN, "iptables-save.txt", "ufw-user-forward", tmp_path))
    assert fixes
    for f in fixes:
        assert "-j ufw-user-forward" not in f["fix"], f["fix"]
        assert "ufw route allow" not in f["fix"], f["fix"]
        assert "no ufw-user-forward chain" in f["fix"], f["fix"]
        assert f["fix_verified"] is True


# -- IPv6: ufw's ip6tables chains are ufw6-* (issue 14) -------------------------------------
# The real ufw 0.36 and Docker 28 (ip6tables on) in the lab, office allowed on 8080 in both
# families: ip6tables has ufw6-user-forward (jumped to from ufw6-before-forward) and an empty
# DOCKER-USER, and no ufw-user-forward.
UFW6 = REPO / "tests" / "fixtures" / "lab" / "docker28" / "ufw_ipv6-broken"


def _by_family(host) -> dict[int, dict]:
    fixes = _bypass_fixes(host)
    assert len(fixes) == 2, [f["subject"] for f in fixes]
    return {6 if f["subject"].startswith("tcp/::") else 4: f for f in fixes}


def test_the_fixture_has_ufw6_user_forward_and_no_ufw_user_forward():
    save = (UFW6 / "ip6tables-save.txt").read_text()
    assert ":ufw6-user-forward - [0:0]" in save and "ufw-user-forward" not in save
    assert ":DOCKER-USER - [0:0]" in save


def test_the_ipv6_ufw_fix_targets_ufw6_user_forward_in_after6_rules():
    f = _by_family(read_snapshot(UFW6))[6]["fix"]
    assert "append a DOCKER-USER block to /etc/ufw/after6.rules" in f, f
    assert ":ufw6-user-forward - [0:0]" in f and "-A DOCKER-USER -j ufw6-user-forward" in f
    assert "ufw-user-forward" not in f, f
    assert "ufw route allow proto tcp from 2001:db8:1::/64 to fd00:66::/64 port 80" in f
    assert "user6.rules holds the route rules" in f
    # the office (eth0) is what ufw admits: only the WAN is dropped
    assert "-A DOCKER-USER -i eth1 -p tcp -m conntrack --ctorigdstport 8080" in f
    assert "-i eth0" not in f, f


def test_the_ipv6_ufw_fix_is_verified_on_the_ufw6_chain():
    fixes = _by_family(read_snapshot(UFW6))
    assert fixes[6]["fix_verified"] is True and fixes[4]["fix_verified"] is True


def test_the_ipv4_ufw_fix_on_the_same_host_is_unchanged():
    f = _by_family(read_snapshot(UFW6))[4]["fix"]
    assert "append a DOCKER-USER block to /etc/ufw/after.rules" in f
    assert ":ufw-user-forward - [0:0]" in f and "-A DOCKER-USER -j ufw-user-forward" in f
    assert "ufw6" not in f and "after6" not in f, f
    assert "ufw route allow proto tcp from 10.99.0.0/24 to 10.66.0.0/24 port 80" in f


def test_the_ipv6_ufw_fix_edits_name_the_ip6_chains():
    from nflens.analysis.context import AuditContext
    from nflens.analysis.findings.input_bypass import detect
    from nflens.analysis.placement import realize

    ctx = AuditContext(read_snapshot(UFW6))
    (v6,) = [f for f in detect(ctx) if f.subject.startswith("tcp/::")]
    v6.fix = realize(ctx, v6.fix, v6.subject)  # where the host's placement (ufw) puts it
    chains = {(e.family, e.chain) for e in v6.fix.edits}
    assert chains == {("ip6", "DOCKER-USER"), ("ip6", "ufw6-user-forward")}
    routes = [e.spec for e in v6.fix.edits if e.chain == "ufw6-user-forward"]
    assert routes == ["-p tcp -d fd00:66::/64 --dport 80 -s 2001:db8:1::/64 -j ACCEPT"]


def test_without_ufw6_user_forward_the_ipv6_fix_names_the_missing_chain(tmp_path):
    fixes = _by_family(_without(UFW6, "ip6tables-save.txt", "ufw6-user-forward", tmp_path))
    f6 = fixes[6]["fix"]
    assert "-j ufw6-user-forward" not in f6 and "ufw route allow" not in f6, f6
    assert "no ufw6-user-forward chain (ufw declares it in before6.rules and user6.rules)" in f6
    assert fixes[6]["fix_verified"] is True
    assert "-A DOCKER-USER -j ufw-user-forward" in fixes[4]["fix"]  # IPv4 keeps the route form


def test_generated_lines_in_ip6_are_the_ufw6_lines_ufw_wrote():
    """user6.rules as the real ufw 0.36 wrote it: its tuples generate exactly its `ufw6-user-*`
    lines with family ip6 (and the iptables names without)."""
    from nflens.managers.ufw import generated, rules_lines

    text = (UFW6 / "persist" / "etc" / "ufw" / "user6.rules").read_text()
    lines = [rl for rl in rules_lines("etc/ufw/user6.rules", text) if rl.rule is not None]
    assert lines
    for rl in lines:
        assert rl.rule is not None and rl.rule.parsed is not None
        assert generated(rl.rule.parsed, "ip6") == [rl.text]
        assert generated(rl.rule.parsed)[0].startswith("-A ufw-user-input ")
