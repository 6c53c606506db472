"""The audit's fix on a real Podman host (issue 27): input-bypass's rules at the top of filter
FORWARD (placement/iptables_netavark.py), applied as printed, close the published ports to the
sources INPUT refuses, and the host's own connection to the port still gets in (the fix does
not over-block); direct-container-access's fix closes a container's own address to a
neighbour routing to it and leaves the published port open; and what the fix's note says of
netavark re-creating its rules holds.
Before the fix the kernel let wan-web2 and lan-web2 in
(tests/fixtures/podman/input-bypass-*/expected.json). One version/driver in the default suite
(5.8.6 nftables: the iptables-nft FORWARD beside netavark's `inet netavark` table), the other
two under `-m matrix`."""

from __future__ import annotations

import json
import shutil

import pytest

from nflens.lab import probes, run
from nflens.lab.netns import Lab, leftovers, run_in
from nflens.lab.podman_run import COMBOS, SCENARIOS, build, snapshot
from nflens.lab.versions import VersionMissing
from tests.inprocess import run_main

pytestmark = [pytest.mark.lab, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("nsenter", "iptables", "nft", "unshare")),
    reason="needs nsenter, iptables, nft and unshare")]

PARAMS = [pytest.param(c, id=c.label, marks=() if c.label == "5.8.6-nftables"
                       else pytest.mark.matrix) for c in COMBOS]
AFTER = {"wan-web2": "deny", "lan-web2": "deny", "wan-hostsvc": "deny", "lan-hostsvc": "deny",
         "host-web2": "allow"}


def _fix_lines(snap, finding: str) -> list[str]:
    r = run_main("audit", "--json", "--snapshot", str(snap))
    assert r.traceback is None, r.err
    fixes = [f for f in json.loads(r.out)["findings"] if f["id"] == finding]
    assert len(fixes) == 2 and all(f["fix_verified"] for f in fixes)
    return [ln for f in fixes for ln in f["fix"].splitlines() if not ln.startswith("#")]


def _direct(ctx, lab) -> tuple[str, str]:
    """(straight to web2's address, to its published port) from the WAN client, which routes
    the containers' subnet via the host (a neighbour: direct-container-access's story)."""
    wan = ctx.topo.client_for("eth1")
    direct = probes.from_netns(wan, "10.213.213.2", 80, runner=lab.runner).outcome
    published = probes.from_netns(wan, "198.51.100.1", 8080, runner=lab.runner).outcome
    return direct, published


@pytest.mark.parametrize("config", PARAMS)
def test_podman_input_bypass_fix_closes_the_ports_on_the_real_kernel(tmp_path, config):
    sc = SCENARIOS["input-bypass"]
    try:
        with Lab() as lab:
            ctx = build(lab, sc, config)
            snapshot(ctx, tmp_path)
            run_in(ctx.topo.client_for("eth1"), ["ip", "route", "add", "10.213.213.0/24",
                                                 "via", "198.51.100.1"], runner=lab.runner)
            direct = [_direct(ctx, lab)]
            for line in _fix_lines(tmp_path, "direct-container-access"):
                assert line.startswith("iptables -I FORWARD 1 -d 10.213.213.")
                ctx.podman.sh(line)
            direct.append(_direct(ctx, lab))
            for line in _fix_lines(tmp_path, "input-bypass"):
                assert line.startswith("iptables -I FORWARD ")
                ctx.podman.sh(line)
            got = {o.name: o.outcome for o in run.probe_all(ctx, sc.flows, 1)}  # type: ignore[arg-type]
            reloaded = _reloads(ctx, config.driver)
            ctx.podman.stop()
            run_id = lab.id
    except VersionMissing as exc:
        pytest.skip(str(exc))
    assert not leftovers(run_id)
    # direct access: open before, closed by its fix, the published port (DNATed) still open
    assert direct == [("allow", "allow"), ("deny", "allow")]
    assert got == AFTER
    assert reloaded == {"kept": True, "recreated_on_top": config.driver == "iptables"}


def _forward(ctx) -> list[str]:
    return [ln for ln in ctx.podman.sh("iptables -S FORWARD").splitlines()
            if ln.startswith("-A")]


def _reloads(ctx, driver: str) -> dict[str, bool]:
    """What the fix's note says of netavark re-creating its rules: after `podman network
    reload --all` the fix's rules still come first; with the iptables driver, once the jump is
    gone (a boot or flush restored the admin's rules first), netavark puts it back on top."""
    pm = ctx.podman
    pm.run("network", "reload", "--all")
    rules = _forward(ctx)
    kept = "ctorigdstport" in rules[0]
    if driver != "iptables":
        return {"kept": kept, "recreated_on_top": "NETAVARK" in rules[0]}
    jump = next(ln for ln in rules if "NETAVARK_FORWARD" in ln)
    pm.sh("iptables " + jump.replace("-A", "-D", 1))
    pm.run("network", "reload", "--all")
    return {"kept": kept, "recreated_on_top": "NETAVARK_FORWARD" in _forward(ctx)[0]}
