"""Fixes as IR placed per host (issue 28): on a hand-written nftables host every fix is a
verified nft script of nflens's own table; one merged script per host, verified as a whole.

Fixtures: tests/fixtures/nft_host/docker (a hand-written /etc/nftables.conf with the admin's
input filter and Docker's NAT/forwarding written by hand; Docker runs with iptables off) and
tests/fixtures/nft_host/open (an nftables.conf with no table). Their nft.json is what
`nft -j list ruleset` printed after loading persist/etc/nftables.conf with `nft -f` in a
scratch network namespace (nft 1.0.6).
"""

from __future__ import annotations

import pytest

from nflens.analysis.audit import audit
from nflens.analysis.context import AuditContext
from nflens.analysis.fixes import Edit, Fix
from nflens.analysis.fixscript import ordered
from nflens.analysis.placement import PLACEMENTS, choose
from nflens.analysis.placement.nft import HEREDOC
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

NFT_HOST = REPO / "tests" / "fixtures" / "nft_host"
LAB = REPO / "tests" / "fixtures" / "lab"


@pytest.fixture(scope="module")
def docker_audit():
    return audit(read_snapshot(NFT_HOST / "docker"))


def _by_id(result) -> dict:
    return {f["id"]: f for f in result["findings"]}


def _contract(text: str) -> list[str]:
    """The nft script of a fix text that keeps the contract: `#` lines and commands, one
    here-document `nft -f - <<'EOF'` ... `EOF`; returns the here-document's lines."""
    lines = text.splitlines()
    assert lines.count(HEREDOC) == 1 and lines.count("EOF") == 1, text
    start, end = lines.index(HEREDOC), lines.index("EOF")
    assert start < end
    outside = lines[:start] + lines[end + 1:]
    assert all(ln.startswith("#") for ln in outside), text
    body = lines[start + 1:end]
    assert all(ln.split(" ", 2)[0] in ("add", "flush") for ln in body), body
    assert "flush table" not in text and "flush ruleset" not in text.split("# to keep")[0]
    return body


@pytest.mark.parametrize("finding", ["input-bypass", "address-bound-port",
                                     "direct-container-access"])
def test_a_finding_on_an_nftables_host_gets_a_verified_nft_fix(docker_audit, finding):
    f = _by_id(docker_audit)[finding]
    assert f["fix_verified"] is True, f["verification"]
    body = _contract(f["fix"])
    assert "iptables" not in f["fix"] and "DOCKER-USER" not in f["fix"]
    chain = [ln for ln in body if ln.startswith("add chain ")]
    assert len(chain) == 1 and "hook forward priority filter - 1" in chain[0]
    assert any(ln.startswith("add rule ip nflens ") and ln.endswith(" drop") for ln in body)


def test_the_input_bypass_fix_drops_by_the_original_destination(docker_audit):
    """DNAT rewrote the port before forward: the nft rule must read conntrack's original
    tuple, as the DOCKER-USER rule does with --ctorigdstport."""
    text = _by_id(docker_audit)["input-bypass"]["fix"]
    assert "ct original proto-dst 8080" in text and "ct original ip daddr 10.99.0.1" in text


def test_no_firewall_on_an_empty_nftables_host_gets_a_verified_nft_input_chain():
    result = audit(read_snapshot(NFT_HOST / "open"))
    f = _by_id(result)["no-firewall"]
    assert f["fix_verified"] is True, f["verification"]
    body = _contract(f["fix"])
    assert any("hook input priority filter - 1" in ln for ln in body)
    assert body[-1].endswith(" drop")
    assert 'ip saddr 10.99.0.0/24 iifname "eth0" meta l4proto tcp tcp dport 8000 accept' in \
        " ".join(body)


def test_an_nft_fix_that_does_not_fix_is_not_verified():
    """The verification is real: the same finding with an nft script that adds only an empty
    table stays there."""
    from nflens.analysis.audit import _verify
    from nflens.analysis.findings import address_bound

    ctx = AuditContext(read_snapshot(NFT_HOST / "docker"))
    (found,) = address_bound.detect(ctx)
    found.fix = Fix(nft="add table ip nflens\n", shown="# nothing")
    _verify(ctx, address_bound, found)
    assert found.fix.verified is False and "still" in found.fix.verification


def test_the_merged_script_is_one_here_document_verified_together(docker_audit):
    script = docker_audit["fix_script"]
    assert script["verified"] is True, script["verification"]
    assert len(script["findings"]) == 3
    body = _contract(script["text"])
    assert body.count("add table ip nflens") == 1
    assert sum(ln.startswith("add chain ") for ln in body) == 3
    order = ("add table", "add chain", "flush chain", "add rule")
    ranks = [order.index(" ".join(ln.split(" ", 2)[:2])) for ln in body]
    assert ranks == sorted(ranks)


def test_the_merged_script_on_an_iptables_host_is_the_fixes_commands_once():
    result = audit(read_snapshot(LAB / "bound_port-proxy"))
    script = result["fix_script"]
    assert script["verified"] is True, script["verification"]
    commands = [ln for ln in script["text"].splitlines() if not ln.startswith("#")]
    assert commands and all(ln.startswith("iptables -I DOCKER-USER ") for ln in commands)
    assert len(commands) == len(set(commands))


def test_each_host_gets_the_placement_that_owns_its_path():
    from nflens.analysis.findings import address_bound

    names = {}
    for host in (NFT_HOST / "docker", LAB / "bound_port-proxy", LAB / "ufw_docker-broken"):
        ctx = AuditContext(read_snapshot(host))
        (found,) = [f for f in address_bound.detect(ctx)] or [None]
        if found is None:
            from nflens.analysis.findings import input_bypass

            found = input_bypass.detect(ctx)[0]
        chosen = choose(ctx, found.fix)
        names[host.name] = chosen.NAME if chosen else None
    assert names == {"docker": "nft", "bound_port-proxy": "iptables",
                     "ufw_docker-broken": "ufw"}


def test_placements_are_registered_once_in_rank_order():
    ranks = [m.RANK for m in PLACEMENTS]
    assert ranks == sorted(ranks) and len({m.NAME for m in PLACEMENTS}) == len(PLACEMENTS)
    assert {m.NAME for m in PLACEMENTS} >= {"iptables", "ufw", "firewalld", "nft"}


def test_merged_edits_keep_each_fix_positions_on_the_chain_as_it_is_by_then():
    """A deletion of rule 3 and one fix inserting before rules 2 and 5 (its second insert
    written as 6, after its first): the deletion first, then 2 and 5 (5 = 6, minus the
    deleted rule above); a second fix's insert before rule 2 comes after the first's."""
    d = Edit("ip", "filter", "DOCKER-USER", 3, None)
    a1 = Edit("ip", "filter", "DOCKER-USER", 2, "-j A1")
    a2 = Edit("ip", "filter", "DOCKER-USER", 6, "-j A2")
    b1 = Edit("ip", "filter", "DOCKER-USER", 2, "-j B1")
    out = ordered([[d], [a1, a2], [b1], [a1]])
    assert [(e.position, e.spec) for e in out] == [(3, None), (2, "-j A1"), (5, "-j A2"),
                                                    (3, "-j B1")]


def test_a_port_an_nft_forward_chain_refuses_gets_a_verified_rule_in_that_chain():
    """tests/fixtures/nft_host/forward_drop: the admin's `ip filter forward` (policy drop) has
    no accept for the published port. An accept in another table could not help (a drop in
    any base chain is final): the fix is a rule in that chain, before its policy."""
    result = audit(read_snapshot(NFT_HOST / "forward_drop"))
    f = _by_id(result)["unreachable-published-port"]
    assert f["fix_verified"] is True, f["verification"]
    body = _contract(f["fix"])
    assert body == ["add rule ip filter forward ct status dnat meta l4proto tcp "
                    "ct original proto-dst 8080 accept"]
    assert result["fix_script"]["verified"] is True


def test_audit_fix_script_prints_the_merged_block_only():
    from tests.inprocess import run_main

    run = run_main("audit", "--fix-script", "--snapshot", str(NFT_HOST / "docker"))
    assert run.code == 0 and run.traceback is None, run.err
    assert run.out.startswith("# nflens audit: 3 verified fix(es), as one block")
    _contract(run.out)
    assert "not verified" not in run.err
