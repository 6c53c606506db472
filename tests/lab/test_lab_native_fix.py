"""Issue 13's Must show: the manager-native fix `nflens audit` prints, applied with the real
ufw / firewalld in a lab host, gives the intended verdicts — after the manager's reload, after
a dockerd restart, and after a rebuild of the host from its saved /etc ("reboot").

The fix is not written here: the test snapshots the broken host, runs `nflens audit --json`,
and applies the printed fix texts with lab/nativefix.py, which only follows what the text says.
The intended verdicts are the admin's intent as the manager states it: the office keeps what
the manager's rules for incoming connections allow, the WAN loses the published ports, and
the host's own services keep their rules.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from nflens.lab import nativefix, run, versions
from nflens.lab.netns import Lab
from nflens.lab.scenarios import load
from tests.lab.test_lab_hostfw import _assert_gone, _etc_digest, needs_tools

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


def audit(ctx, out) -> list[dict]:
    run.snapshot(ctx, out)
    proc = subprocess.run([sys.executable, "-m", "nflens", "audit", "--snapshot", str(out),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def verdicts(ctx, names: tuple[str, ...]) -> dict[str, str]:
    flows = tuple(f for f in ctx.scenario_flows if f.name in names)
    return {o.name: o.outcome for o in run.probe_all(ctx, flows, rounds=1)}


def ids(findings: list[dict], kind: str) -> list[str]:
    return [f["subject"] for f in findings if f["id"] == kind]


def fix_natively(host, flows: tuple[str, ...], kinds: tuple[str, ...] = ("input-bypass",)):
    """Probe the broken host, audit it and apply the verified fixes of `kinds` as printed,
    with the host's own manager (lab/nativefix.py)."""
    ctx = host.ctx
    before = verdicts(ctx, flows)
    findings = audit(ctx, host.tmp / "before")
    fixes = [f["fix"] for f in findings if f["id"] in kinds and f.get("fix")
             and f.get("fix_verified")]
    if host.sc.firewall == "ufw":
        ran = nativefix.apply_ufw(fixes, ctx.mounts.etc, ctx.sh)
    else:
        ran = nativefix.apply_firewalld(fixes, ctx.sh)
    return {"before": before, "findings": findings, "ran": ran, "fixes": fixes}


def fixed_as_intended(host, flows: tuple[str, ...], intended: dict[str, str]) -> None:
    """The fixed host gives the intended verdicts, and its audit finds no bypass left and no
    rule the manager would lose."""
    assert verdicts(host.ctx, flows) == intended
    after = audit(host.ctx, host.tmp / "after")
    assert ids(after, "input-bypass") == [] and ids(after, "not-persistent") == []


class Host:
    """A live lab host of `scenario/variant`, rebuildable from its saved /etc."""

    def __init__(self, scenario: str, variant: str, tmp, docker: str = versions.DEFAULT):
        self.sc, self.tmp, self.docker = load(scenario), tmp, docker
        self.variant = self.sc.variant(variant)
        self.lab = self.ctx = None
        self.gone: list = []

    def up(self, etc_from=None):
        variant = self.variant if etc_from is None else dataclasses.replace(
            self.variant, boot=nativefix.BOOT[self.sc.firewall])
        self.lab = Lab().__enter__()
        try:
            self.ctx = run.build(self.lab, self.sc, variant, docker=self.docker,
                                 etc_from=etc_from)
        except BaseException:
            self.down()
            raise
        self.ctx.scenario_flows = self.sc.flows
        return self.ctx

    def down(self):
        if self.ctx is not None:
            self.ctx.docker.stop()
            self.gone.append((self.lab.id, list(self.lab.state.procs),
                              os.stat(self.ctx.mounts.file).st_ino))
        self.lab.__exit__(None, None, None)
        self.lab = self.ctx = None

    def reboot(self):
        saved = nativefix.save_etc(self.ctx, self.tmp / f"etc-{len(self.gone)}")
        self.down()
        return self.up(etc_from=saved)


def _lived(scenario: str, variant: str, tmp_path_factory, docker: str = versions.DEFAULT):
    digest = _etc_digest()
    host = Host(scenario, variant, tmp_path_factory.mktemp(scenario), docker)
    host.up()
    try:
        yield host
    finally:
        if host.lab is not None:
            host.down()
    for lab_id, procs, inode in host.gone:
        _assert_gone(lab_id, procs, inode)
    assert _etc_digest() == digest


# -- ufw -----------------------------------------------------------------------------------
UFW_FLOWS = ("lan-tomcat", "wan-tomcat", "lan-web", "wan-web", "wan-tomcat-direct",
             "lan-limited-svc", "wan-limited-svc")
# ufw's intent: tomcat's port 80 from the office only; nobody on 8080; 8000 limited but open.
UFW_INTENDED = {"lan-tomcat": "allow", "wan-tomcat": "deny", "lan-web": "deny",
                "wan-web": "deny", "wan-tomcat-direct": "deny", "lan-limited-svc": "allow",
                "wan-limited-svc": "allow"}


@pytest.fixture(scope="module")
def ufw_host(tmp_path_factory):
    yield from _lived("ufw_docker", "broken", tmp_path_factory)


@pytest.fixture(scope="module")
def ufw_fixed(ufw_host):
    return fix_natively(ufw_host, UFW_FLOWS, ("input-bypass", "direct-container-access"))


@needs_tools
def test_ufw_audit_names_ufw_and_prints_a_ufw_fix(ufw_fixed):
    bypass = [f for f in ufw_fixed["findings"] if f["id"] == "input-bypass"]
    assert {f["subject"].split("->")[0] for f in bypass} == {"tcp/0.0.0.0:80",
                                                             "tcp/0.0.0.0:8080"}
    assert all("after.rules" in f["fix"] and "ufw reload" in f["fix"] for f in bypass)
    assert ufw_fixed["before"] == dict.fromkeys(UFW_FLOWS, "allow")
    assert any(c.startswith("ufw route allow") for c in ufw_fixed["ran"])


@needs_tools
def test_ufw_fix_applied_and_reloaded_gives_the_intended_verdicts(ufw_host, ufw_fixed):
    fixed_as_intended(ufw_host, UFW_FLOWS, UFW_INTENDED)


@needs_tools
def test_ufw_fix_survives_a_second_reload_and_a_dockerd_restart(ufw_host, ufw_fixed):
    ufw_host.ctx.sh("ufw reload")
    nativefix.restart_dockerd(ufw_host.ctx)
    assert verdicts(ufw_host.ctx, UFW_FLOWS) == UFW_INTENDED


@needs_tools
def test_ufw_fix_survives_a_reboot(ufw_host, ufw_fixed):
    ctx = ufw_host.reboot()
    assert "Status: active" in ctx.sh("ufw status")
    assert verdicts(ctx, UFW_FLOWS) == UFW_INTENDED


# -- ufw over IPv6 (Docker 28: ip6tables on; issue 14) -------------------------------------
UFW6_FLOWS = ("lan-web", "wan-web", "lan-web6", "wan-web6")
# ufw's intent: 8080 from the office only, in both families (user.rules and user6.rules)
UFW6_INTENDED = {"lan-web": "allow", "wan-web": "deny", "lan-web6": "allow", "wan-web6": "deny"}


@pytest.fixture(scope="module")
def ufw6_host(tmp_path_factory):
    from tests.conftest import docker_or_skip

    docker_or_skip("28")
    yield from _lived("ufw_ipv6", "broken", tmp_path_factory, docker="28")


@pytest.fixture(scope="module")
def ufw6_fixed(ufw6_host):
    return fix_natively(ufw6_host, UFW6_FLOWS)


@needs_tools
def test_ufw6_fix_goes_to_after6_rules_and_the_ufw6_chain(ufw6_host, ufw6_fixed):
    assert ufw6_fixed["before"] == dict.fromkeys(UFW6_FLOWS, "allow")
    assert len(ufw6_fixed["fixes"]) == 2
    assert "ufw route allow proto tcp from 2001:db8:1::/64 to fd00:66::/64 port 80" \
        in ufw6_fixed["ran"]
    after6 = (ufw6_host.ctx.mounts.etc / "ufw" / "after6.rules").read_text()
    assert "-A DOCKER-USER -j ufw6-user-forward" in after6
    save6 = ufw6_host.ctx.sh("ip6tables-save -t filter")
    assert "-A DOCKER-USER -j ufw6-user-forward" in save6
    assert "-A ufw6-user-forward -s 2001:db8:1::/64 -d fd00:66::/64 -p tcp -m tcp --dport 80 " \
           "-j ACCEPT" in save6
    assert "ufw-user-forward" not in save6


@needs_tools
def test_ufw6_fix_closes_the_ipv6_exposure_and_keeps_the_office(ufw6_host, ufw6_fixed):
    fixed_as_intended(ufw6_host, UFW6_FLOWS, UFW6_INTENDED)


@needs_tools
def test_ufw6_fix_survives_a_reboot(ufw6_host, ufw6_fixed):
    ctx = ufw6_host.reboot()
    assert "Status: active" in ctx.sh("ufw status")
    assert verdicts(ctx, UFW6_FLOWS) == UFW6_INTENDED


# -- firewalld -----------------------------------------------------------------------------
FWD_FLOWS = ("lan-proxy", "wan-proxy", "lan-radius", "wan-radius", "lan-hostsvc",
             "wan-hostsvc")
# The rich rule admits 8080 from the office in zone public, where the office never arrives;
# internal admits 8000 only: nobody on 8080 or 1812 is intended, the host service stays.
FWD_INTENDED = {"lan-proxy": "deny", "wan-proxy": "deny", "lan-radius": "deny",
                "wan-radius": "deny", "lan-hostsvc": "allow", "wan-hostsvc": "deny"}
RADIUS = {"radius": (1812,)}


@pytest.fixture(scope="module")
def fwd_host(tmp_path_factory):
    yield from _lived("firewalld_zones", "rich-rule", tmp_path_factory)


@pytest.fixture(scope="module")
def fwd_fixed(fwd_host):
    return fix_natively(fwd_host, FWD_FLOWS)


@needs_tools
def test_firewalld_audit_prints_direct_rules(fwd_fixed):
    bypass = [f for f in fwd_fixed["findings"] if f["id"] == "input-bypass"]
    assert len(bypass) == 2 and all("firewall-cmd --permanent --direct" in f["fix"]
                                    for f in bypass)
    assert fwd_fixed["before"]["wan-proxy"] == "allow"


@needs_tools
def test_firewalld_fix_applied_and_reloaded_gives_the_intended_verdicts(fwd_host, fwd_fixed):
    fixed_as_intended(fwd_host, FWD_FLOWS, FWD_INTENDED)


@needs_tools
def test_firewalld_fix_survives_a_second_reload_and_a_dockerd_restart(fwd_host, fwd_fixed):
    fwd_host.ctx.sh("firewall-cmd --reload")
    assert verdicts(fwd_host.ctx, FWD_FLOWS) == FWD_INTENDED
    nativefix.restart_dockerd(fwd_host.ctx, RADIUS)
    assert verdicts(fwd_host.ctx, FWD_FLOWS) == FWD_INTENDED


@needs_tools
def test_firewalld_fix_survives_a_reboot(fwd_host, fwd_fixed):
    ctx = fwd_host.reboot()
    assert "mangle FORWARD" in ctx.sh("firewall-cmd --direct --get-all-rules")  # from direct.xml
    assert verdicts(ctx, FWD_FLOWS) == FWD_INTENDED


# -- the merged fix script (issue 28): one block for every fix, applied as printed ----------
@pytest.fixture(scope="module")
def ufw_merged_host(tmp_path_factory):
    yield from _lived("ufw_docker", "broken", tmp_path_factory)


@needs_tools
@pytest.mark.matrix
def test_the_merged_ufw_fix_script_applied_as_printed_gives_ufws_intent(ufw_merged_host):
    """`fix_script.text` of the broken ufw host (one after.rules block with every fix, the
    route rule, one reload), applied with lab/nativefix.py like a single fix: the verdicts
    are ufw's intent, and the audit afterwards finds no bypass left."""
    ctx = ufw_merged_host.ctx
    proc = subprocess.run([sys.executable, "-m", "nflens", "audit", "--snapshot",
                           str(_snap(ctx, ufw_merged_host.tmp / "before")), "--json"],
                          capture_output=True, text=True, timeout=120)
    script = json.loads(proc.stdout)["fix_script"]
    assert script["verified"] is True, script["verification"]
    nativefix.apply_ufw([script["text"]], ctx.mounts.etc, ctx.sh)
    fixed_as_intended(ufw_merged_host, UFW_FLOWS, UFW_INTENDED)


def _snap(ctx, out):
    run.snapshot(ctx, out)
    return out
