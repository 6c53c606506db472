"""The merged fix script (issue 28) verified as a whole on the fixtures where it was not:
each test names the cause that made `fix_script.verified` false there before."""

from __future__ import annotations

import pytest

from nflens.analysis.audit import audit
from nflens.analysis.fixes import Edit
from nflens.analysis.fixscript import ordered
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

FIX = REPO / "tests" / "fixtures"


def _e(pos: int, spec: str, chain: str = "DOCKER-USER") -> Edit:
    return Edit("ip", "filter", chain, pos, spec)


def test_a_rule_two_fixes_share_still_counts_for_the_positions_of_the_second_fixs_rules():
    """ufw_docker-broken: both ufw fixes insert `-j ufw-user-forward` at 1 and their drops
    after it; the shared jump was skipped in the second fix and its drops then counted one
    rule too many from the top: they landed after the chain's `-j RETURN`."""
    jump = "-j ufw-user-forward"
    first = [_e(1, jump), _e(2, "-i eth1 -p tcp --dport 80 -j DROP")]
    second = [_e(1, jump), _e(2, "-i eth0 -p tcp --dport 8080 -j DROP"),
              _e(3, "-i eth1 -p tcp --dport 8080 -j DROP")]
    chain = ["-j RETURN"]
    for e in ordered([first, second]):
        chain.insert(e.position - 1, e.spec or "")
    assert chain == [jump, first[1].spec, second[1].spec, second[2].spec, "-j RETURN"]


def test_a_fix_that_only_drops_goes_before_a_fix_that_accepts_at_the_same_place():
    """ufw_docker-broken: direct-container-access's drop came after ufw's jump to its route
    rules, whose ACCEPT let the LAN reach the container's own address before the drop."""
    accepting = [_e(1, "-j ufw-user-forward"), _e(2, "-i eth1 -j DROP")]
    dropping = [_e(1, "-d 172.17.0.2/32 ! -i docker0 -j DROP")]
    merged = ordered([accepting, dropping])
    assert [e.spec for e in sorted(merged, key=lambda e: e.position)][0] == dropping[0].spec


@pytest.mark.parametrize("path", ["lab/ufw_docker-broken", "lab/docker26/ufw_docker-broken",
                                  "fail2ban/input-jails", "lab/seed004_dnat_port-broken",
                                  "lab/docker26/seed004_dnat_port-broken",
                                  "lab/docker28/seed004_dnat_port-broken"])
def test_the_merged_fix_script_is_verified(path):
    script = audit(read_snapshot(FIX / path))["fix_script"]
    assert script["verified"] is True, script["verification"]


def test_two_jails_on_one_port_keep_only_the_sources_no_jail_bans():
    """fail2ban/input-jails: sshd bans 198.51.100.7 on every port, nginx-http-auth
    198.51.100.8 on 8080; each jail's fix had to keep admitting the other's banned source,
    which the other's fix refuses: together they were judged over-blocking."""
    result = audit(read_snapshot(FIX / "fail2ban" / "input-jails"))
    assert [f for f in result["findings"] if f["id"] == "ban-bypass"]
    assert result["fix_script"]["verified"] is True


def test_input_bypass_is_superseded_by_the_repaired_dead_rule_on_its_port():
    """seed004: the admin's DOCKER-USER drop of port 80 is dead (DNAT rewrote it to 8080);
    its repair drops port 80 from everyone, which input-bypass's fix (keep the LAN) cannot
    be verified with. Once repaired, the admin's own rule filters the port on the forward
    path: input-bypass's premise is gone, its fix leaves the script, and says so."""
    script = audit(read_snapshot(FIX / "lab" / "seed004_dnat_port-broken"))["fix_script"]
    assert "input-bypass tcp/0.0.0.0:80->tomcat:8080" not in script["findings"]
    assert "# superseded: input-bypass tcp/0.0.0.0:80->tomcat:8080" in script["text"]
    assert "--ctorigdstport 80 --ctdir ORIGINAL -j DROP" in script["text"]


@pytest.mark.parametrize("path", ["lab/ufw_docker-broken", "lab/docker28/ufw_docker-broken"])
def test_a_ufw_hosts_merged_script_has_one_after_rules_block_as_the_chain_must_read(path):
    """Each ufw fix wrote its own `once: append a DOCKER-USER block` with the chain of today:
    run as one script, the second block would set the chain without the first's lines. The
    merged script has one block, holding the DOCKER-USER chain with every fix made, and one
    `ufw reload`."""
    from nflens.analysis.placement.ufw import BLOCK_BEGIN

    result = audit(read_snapshot(FIX / path))
    text = result["fix_script"]["text"]
    lines = text.splitlines()
    assert lines.count(BLOCK_BEGIN) == 1 and lines.count("ufw reload") == 1
    block = lines[lines.index(BLOCK_BEGIN):lines.index("COMMIT")]
    drops = [ln for f in result["findings"] if f["id"] == "input-bypass"
             for ln in f["fix"].splitlines() if ln.startswith("-A DOCKER-USER -i ")]
    assert drops and all(d in block for d in drops)
    assert "-A DOCKER-USER -j RETURN" not in block[:-1]  # nothing after the chain's return
    assert result["fix_script"]["verified"] is True


def test_the_one_ufw_block_reads_as_the_lab_applier_reads_a_fix():
    """lab/nativefix.parse_ufw (what the lab applies ufw fix texts with) takes the merged
    script's block as one block to append and its ufw route command, with no line left over."""
    from nflens.lab.nativefix import parse_ufw

    text = audit(read_snapshot(FIX / "lab" / "ufw_docker-broken"))["fix_script"]["text"]
    fix = parse_ufw(text)
    assert fix.path == "/etc/ufw/after.rules" and fix.block[-1].startswith("# END NFLENS")
    assert fix.commands == ["ufw route allow proto tcp from 10.99.0.0/24 to 172.17.0.0/16 "
                            "port 8080", "ufw reload"]
