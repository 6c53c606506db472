"""The Podman fixtures (tests/fixtures/podman, recorded by `python -m nflens.lab.podman_run`):
each holds what the real kernel did on a real rootful Podman host, and the model's answers on
them are measured here (issue 27). No root needed.

Measured before any Podman support in the model: input-bypass and dnat-port agree on every
flow on every version and driver (the model walks netavark's chains and `inet netavark` table
as any other rules); egress could not be asked at all: its flows start in a Podman container,
which the model did not know ("unknown container"), exit 2 (8/11 per version and driver). The
runtime seam (Host.runtimes, snapshot/podmanstate.py) reads Podman's containers and networks:
11/11 on 4.3.1-iptables, 5.8.6-iptables and 5.8.6-nftables (bench/podman_agreement.py).
netavark's chains and table are owner `podman` (analysis/owners.py, CONTRACT §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nflens.flows import load_flows
from nflens.kernel.check import check_flows
from nflens.lab import podman_versions
from nflens.lab.podman_run import COMBOS, SCENARIOS
from nflens.snapshot.read import read_snapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "podman"
DIRS = sorted(d for d in FIXTURES.iterdir() if (d / "expected.json").exists())


def test_every_scenario_has_a_fixture_per_version_and_driver():
    want = {f"{s}-{c.label}" for s in SCENARIOS for c in COMBOS}
    assert {d.name for d in DIRS} == want


@pytest.mark.parametrize("fixture", DIRS, ids=[d.name for d in DIRS])
def test_fixture_was_made_by_its_podman_and_driver(fixture):
    lab = json.loads((fixture / "lab.json").read_text())
    info = json.loads((fixture / "podman-info.json").read_text())
    assert fixture.name.endswith(f"-{lab['podman']}-{lab['firewall_driver']}")
    assert info["version"]["Version"] == lab["podman"]
    assert lab["netavark"] == podman_versions.get(lab["podman"]).netavark
    expected = json.loads((fixture / "expected.json").read_text())
    flows = json.loads((fixture / "flows.json").read_text())["flows"]
    assert sorted(expected["expected"]) == sorted(f["name"] for f in flows)
    assert expected["flaky"] == []


def _verdicts(fixture: Path) -> dict[str, str]:
    results = check_flows(read_snapshot(fixture), load_flows(fixture / "flows.json"))
    return {r.name: r.verdict for r in results}


ANSWERED = [d for d in DIRS if not d.name.startswith("egress-")]


@pytest.mark.parametrize("fixture", DIRS, ids=[d.name for d in DIRS])
def test_the_model_agrees_with_the_kernel_on_podman_hosts(fixture):
    """Every flow of every fixture, egress's from a Podman container included (those were
    exit 2 before the runtime seam: 'unknown container web2 (known: none)')."""
    expected = json.loads((fixture / "expected.json").read_text())["expected"]
    assert _verdicts(fixture) == expected


EGRESS = [d for d in DIRS if d.name.startswith("egress-")]


@pytest.mark.parametrize("fixture", EGRESS, ids=[d.name for d in EGRESS])
def test_a_flow_from_a_podman_container_leaves_by_its_netavark_bridge(fixture):
    """The container's address is its source and its bridge (podman1) the way in, as the
    kernel saw it: the WAN drop is the setup line's, by source, before netavark's accept."""
    flows = load_flows(fixture / "flows.json")
    results = {r.name: r for r in check_flows(read_snapshot(fixture), flows)}
    wan = results["web2-wan"]
    assert wan.verdict == "deny"
    text = json.dumps(wan.to_json())
    assert "10.213.213.2" in text and "podman1" in text
    assert "10.213.213.0/24" in text and "eth1" in text  # the setup's rule stopped it


@pytest.mark.parametrize("fixture", ANSWERED, ids=[d.name for d in ANSWERED])
def test_netavarks_rules_are_owned_by_podman_and_the_admins_stay_the_admins(fixture):
    """Before: every netavark rule step was owner 'admin' (58/72/88 steps per version/driver,
    bench/podman_agreement.py) and 5.8.6-nftables had a 'not-persistent' finding for the
    `inet netavark` table, which netavark itself re-creates at container start."""
    from nflens.analysis.owners import RuleOwners

    host = read_snapshot(fixture)
    owners = RuleOwners(host)
    seen = {"podman": 0, "admin": 0}
    for table in host.ruleset.tables:
        for chain in table.chains:
            for rule in chain.rules:
                owner = owners.of(rule)
                if owner is None:
                    continue
                netavark = (table.name == "netavark" and table.origin == "nft") or \
                    chain.name.startswith("NETAVARK") or "-j NETAVARK" in rule.text
                if netavark:
                    assert owner.kind == "podman", (chain.name, rule.text)
                    seen["podman"] += 1
                elif table.origin != "nft" and chain.name in ("INPUT", "FORWARD"):
                    assert owner.kind == "admin", (chain.name, rule.text)  # the setup lines
                    seen["admin"] += 1
    assert seen["podman"] >= 5 and seen["admin"] >= 2
