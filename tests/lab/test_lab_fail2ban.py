"""The real fail2ban on a real kernel (issue 26): the findings' claims and their jail fixes.

The seed 001 lab host (Docker 20.10, web published 8080 -> 80, a host service on 8000, INPUT
policy DROP admitting 8000 and 8080) with Debian's fail2ban 1.1.0 (lab/fail2ban.py) running
in its network namespace, jails on a log file of their own with `banaction =
iptables-multiport`, and bans made with `fail2ban-client set JAIL banip 198.51.100.2` (the
WAN client; the LAN client 10.99.0.2 is not banned).

More shapes run one after another on one lab host (`shapes`): Debian's default banaction
nftables, and the ipset actions (iptables-ipset-proto6 in INPUT; iptables-ipset-proto6 on the
host port and 1.1's iptables-ipset on the host's service in DOCKER-USER), their bans set
members read from ipset-save.txt; each fix done as printed, probed after it, after
`fail2ban-client reload` and, for DOCKER-USER, after a dockerd restart.

CrowdSec: Debian's crowdsec-firewall-bouncer 0.0.25 fed a ban of the same address by a
stand-in LAPI (lab/lapi.py), one configuration after another on one host: iptables mode with
its default `iptables_chains: [INPUT]` and with the printed fix's `[INPUT, DOCKER-USER]`;
nftables mode (its table ip crowdsec on the input hook only), then its printed fix done as
`systemctl restart` would (`set-only: true` and a table of the admin's own hooking forward
too), twice (the table file must be idempotent).

The fail2ban tests probe, audit the snapshot, then does what the printed fix says -- writes its text
into the jail.d file its first line names and runs the fail2ban-client command it names --
and probes again, also after a dockerd restart.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nflens.analysis import bans
from nflens.lab import crowdsec, fail2ban, nativefix, run, versions
from nflens.lab.netns import Lab
from nflens.lab.scenarios import Variant, load

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]
needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dockerd", "busybox", "nsenter", "iptables")),
    reason="needs dockerd, busybox-static, util-linux and iptables")

BANNED = "198.51.100.2"  # the WAN client (lab/topology.py)
FLOWS = ("wan-web", "lan-web", "wan-hostsvc", "lan-hostsvc")
HOST_INPUT = ("iptables -P INPUT DROP", "iptables -A INPUT -i lo -j ACCEPT",
              "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
              "iptables -A INPUT -p tcp --dport 8000 -j ACCEPT",
              "iptables -A INPUT -p tcp --dport 8080 -j ACCEPT")


JAIL_LOCAL = """[DEFAULT]
banaction = {banaction}
backend = polling
{chain}
[sshd]
enabled = false
{jails}"""


def jail(name: str, port: str, log: Path, banaction: str = "") -> str:
    own = f"banaction = {banaction}\n" if banaction else ""
    return (f"\n[{name}]\nenabled = true\nfilter = nginx-http-auth\nport = {port}\n"
            f"logpath = {log}\n{own}")


def _host(variant: str, chain: str, jails: dict[str, str],
          banaction: str = "iptables-multiport"):
    """The lab host with fail2ban running `jails` (name -> port) in `chain`, each banning
    BANNED through fail2ban-client."""
    sc = load("seed001_input_bypass")
    with Lab() as lab:
        ctx = run.build(lab, sc, Variant(variant, "real fail2ban", HOST_INPUT))
        ctx.scenario_flows = sc.flows
        f2b = None
        try:
            root = lab.state_dir / "fail2ban"
            root.mkdir(parents=True, exist_ok=True)
            (root / "web.log").write_text("")
            text = JAIL_LOCAL.format(banaction=banaction, chain=f"chain = {chain}\n", jails="".join(
                jail(n, p, root / "web.log") for n, p in jails.items()))
            f2b = fail2ban.Fail2ban(lab, ctx.host, root, text)
            f2b.start()
            for name in jails:
                f2b.client("set", name, "banip", BANNED)
            ctx.f2b = f2b
            yield ctx
        finally:
            if f2b is not None:
                f2b.stop()
            ctx.docker.stop()


def verdicts(ctx) -> dict[str, str]:
    flows = tuple(f for f in ctx.scenario_flows if f.name in FLOWS)
    return {o.name: o.outcome for o in run.probe_all(ctx, flows, rounds=1)}


def audit(ctx, out) -> list[dict]:
    run.snapshot(ctx, out)
    proc = subprocess.run([sys.executable, "-m", "nflens", "audit", "--snapshot", str(out),
                           "--json"], capture_output=True, text=True, timeout=180)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def as_printed(ctx, fix: str) -> list[str]:
    """Do what the printed fix says: its text into the jail.d file its first line names, then
    the fail2ban-client command it names."""
    first = fix.splitlines()[0]
    m = re.match(r"^# /etc/fail2ban/(jail\.d/\S+\.local), then `fail2ban-client (.+)`$", first)
    assert m, first
    (ctx.f2b.conf / m.group(1)).write_text(fix + "\n")
    ctx.f2b.client(*m.group(2).split())
    time.sleep(1)
    return [m.group(1), m.group(2)]


def _fixes(findings: list[dict], kind: str) -> list[dict]:
    return [f for f in findings if f["id"] == kind]


# -- jail in INPUT: its bans do not reach the published port -----------------------------------

@pytest.fixture(scope="module")
def input_jail(tmp_path_factory):
    for ctx in _host("f2b-input", "INPUT", {"web": "8000,8080"}):
        tmp = tmp_path_factory.mktemp("f2b-input")
        before = verdicts(ctx)
        findings = audit(ctx, tmp / "before")
        [f] = _fixes(findings, "ban-bypass")
        ran = as_printed(ctx, f["fix"])
        after = verdicts(ctx)
        audit_after = audit(ctx, tmp / "after")
        nativefix.restart_dockerd(ctx)
        yield {"before": before, "finding": f, "findings": findings, "ran": ran,
               "after": after, "audit_after": audit_after, "restarted": verdicts(ctx)}


@needs_tools
def test_a_banned_client_reaches_the_published_port_through_an_input_jail(input_jail):
    assert input_jail["before"] == {"wan-web": "allow", "lan-web": "allow",
                                    "wan-hostsvc": "deny", "lan-hostsvc": "allow"}


@needs_tools
def test_audit_names_the_jail_and_its_fix_is_verified(input_jail):
    f = input_jail["finding"]
    assert f["explanation"].startswith(
        f"jail web's bans ({BANNED}) do not cover published port tcp/8080 → web:80.")
    assert f["fix_verified"] is True and BANNED not in f["fix"]
    assert _fixes(input_jail["findings"], "input-bypass") == []


@needs_tools
def test_the_jails_second_action_bans_at_the_published_port(input_jail):
    assert input_jail["after"] == {"wan-web": "deny", "lan-web": "allow",
                                   "wan-hostsvc": "deny", "lan-hostsvc": "allow"}
    assert _fixes(input_jail["audit_after"], "ban-bypass") == []
    assert input_jail["restarted"] == input_jail["after"]  # after a dockerd restart too


# -- jails in DOCKER-USER: a host port never matches; the host's service is unprotected --------

@pytest.fixture(scope="module")
def docker_user_jails(tmp_path_factory):
    for ctx in _host("f2b-docker-user", "DOCKER-USER", {"web": "8080", "svc": "8000"}):
        tmp = tmp_path_factory.mktemp("f2b-docker-user")
        before = verdicts(ctx)
        findings = audit(ctx, tmp / "before")
        dead = _fixes(findings, "dnat-dead-rule")
        gap = _fixes(findings, "ban-host-gap")
        ran = [line for f in dead + gap for line in as_printed(ctx, f["fix"])]
        after = verdicts(ctx)
        audit_after = audit(ctx, tmp / "after")
        nativefix.restart_dockerd(ctx)
        yield {"before": before, "dead": dead, "gap": gap, "ran": ran,
               "after": after, "audit_after": audit_after, "restarted": verdicts(ctx)}


@needs_tools
def test_jails_in_docker_user_miss_both_the_host_port_and_the_host(docker_user_jails):
    assert docker_user_jails["before"] == {"wan-web": "allow", "lan-web": "allow",
                                           "wan-hostsvc": "allow", "lan-hostsvc": "allow"}
    [dead] = docker_user_jails["dead"]
    assert dead["explanation"].startswith(f"jail web's bans ({BANNED}) never match")
    assert dead["fix"].endswith("[web]\nport = 80") and dead["fix_verified"] is True
    [gap] = docker_user_jails["gap"]
    assert gap["subject"].startswith("jail svc tcp/") and gap["fix_verified"] is True


@needs_tools
def test_the_printed_jail_fixes_ban_at_both(docker_user_jails):
    assert docker_user_jails["after"] == {"wan-web": "deny", "lan-web": "allow",
                                          "wan-hostsvc": "deny", "lan-hostsvc": "allow"}
    after = docker_user_jails["audit_after"]
    assert _fixes(after, "dnat-dead-rule") == [] and _fixes(after, "ban-host-gap") == []
    assert docker_user_jails["restarted"] == docker_user_jails["after"]


# -- more jail shapes on one lab host: the ipset actions (bans as set members, ipset-save.txt)
# -- in INPUT and in DOCKER-USER, and Debian's default banaction, nftables (its own table) ----

SHAPES = {  # shape -> (chain, {jail: (port, banaction)})
    "nft-input": ("INPUT", {"web": ("8000,8080", "nftables")}),
    "ipset-input": ("INPUT", {"web": ("8000,8080", "iptables-ipset-proto6")}),
    "ipset-docker-user": ("DOCKER-USER", {"web": ("8080", "iptables-ipset-proto6"),
                                          "svc": ("8000", "iptables-ipset")}),
}
# iptables-ipset-proto6-allports in INPUT ran here too (tests/fixtures/fail2ban/ipset-allports-
# input is its snapshot: the same verdicts as ipset-input, fixed by the same second action
# without `port`); left out to keep the lab's time
FIXED_BY = {"nft-input": ("ban-bypass",), "ipset-input": ("ban-bypass",),
            "ipset-docker-user": ("dnat-dead-rule", "ban-host-gap")}
RESTARTED = ("ipset-docker-user",)  # a dockerd restart costs ~8 s: once, with DOCKER-USER jails


def _shape(lab, ctx, tmp: Path, shape: str) -> dict:
    """One jail shape on the lab host: its own fail2ban (configuration, database), bans made
    with fail2ban-client, probes, audit, the printed fixes done as printed, probes after them,
    after `fail2ban-client reload` and (RESTARTED) after a dockerd restart; then fail2ban is
    stopped, which removes its rules and sets (actionstop)."""
    start = time.monotonic()
    chain, jails = SHAPES[shape]
    root = lab.state_dir / shape
    root.mkdir(parents=True, exist_ok=True)
    (root / "web.log").write_text("")
    text = JAIL_LOCAL.format(banaction="iptables-multiport", chain=f"chain = {chain}\n",
                             jails="".join(jail(n, p, root / "web.log", b)
                                           for n, (p, b) in jails.items()))
    f2b = fail2ban.Fail2ban(lab, ctx.host, root, text)
    ctx.f2b = f2b
    f2b.start()
    try:
        for name in jails:
            f2b.client("set", name, "banip", BANNED)
        got = {"before": verdicts(ctx), "findings": audit(ctx, tmp / shape / "before"),
               "sets": ctx.sh("ipset list -n")}
        fixes = [f for kind in FIXED_BY[shape] for f in _fixes(got["findings"], kind)]
        got["fixes"] = fixes
        got["ran"] = [line for f in fixes for line in as_printed(ctx, f["fix"])]
        got["after"] = verdicts(ctx)
        got["audit_after"] = audit(ctx, tmp / shape / "after")
        got["nft"] = ctx.sh("nft list ruleset")
        f2b.client("reload")
        time.sleep(1)
        got["reloaded"] = verdicts(ctx)
        if shape in RESTARTED:
            nativefix.restart_dockerd(ctx)
            got["restarted"] = verdicts(ctx)
        got["seconds"] = round(time.monotonic() - start, 1)
        print(f"\n{shape}: {got['seconds']} s; before {got['before']}; after {got['after']}; "
              f"reloaded {got['reloaded']}; restarted {got.get('restarted', '-')}")
        return got
    finally:
        f2b.stop()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The shapes one after the other on one lab host (one dockerd: the lab's time)."""
    tmp = tmp_path_factory.mktemp("f2b-shapes")
    sc = load("seed001_input_bypass")
    with Lab() as lab:
        ctx = run.build(lab, sc, Variant("f2b-shapes", "real fail2ban, more shapes",
                                         HOST_INPUT))
        ctx.scenario_flows = sc.flows
        try:
            yield {shape: _shape(lab, ctx, tmp, shape) for shape in SHAPES}
        finally:
            ctx.docker.stop()


FIXED = {"wan-web": "deny", "lan-web": "allow", "wan-hostsvc": "deny", "lan-hostsvc": "allow"}


@needs_tools
def test_nftables_bans_on_the_input_hook_miss_the_published_port_and_the_fix_mends_it(shapes):
    got = shapes["nft-input"]
    assert got["before"] == {"wan-web": "allow", "lan-web": "allow",
                             "wan-hostsvc": "deny", "lan-hostsvc": "allow"}
    [f] = got["fixes"]
    assert "chain=f2b-forward, chain_hook=forward" in f["fix"] and f["fix_verified"] is True
    assert _fixes(got["findings"], "input-bypass") == []
    assert "hook forward" in got["nft"]
    assert got["after"] == FIXED and got["reloaded"] == FIXED
    assert _fixes(got["audit_after"], "ban-bypass") == []


@needs_tools
def test_ipset_bans_in_input_miss_the_published_port_and_the_second_action_mends_it(shapes):
    got = shapes["ipset-input"]
    assert "f2b-web" in got["sets"].split()
    assert got["before"] == {"wan-web": "allow", "lan-web": "allow", "wan-hostsvc": "deny",
                             "lan-hostsvc": "allow"}
    [f] = got["fixes"]
    assert f["explanation"].startswith(f"jail web's bans ({BANNED}, in ipset f2b-web) do not "
                                       "cover published port tcp/8080 → web:80.")
    assert "chain=DOCKER-USER" in f["fix"] and BANNED not in f["fix"]
    assert 'port="80"' in f["fix"]
    assert f["fix_verified"] is True, f["verification"]
    assert _fixes(got["findings"], "input-bypass") == []
    assert got["after"] == FIXED and got["reloaded"] == FIXED
    assert got.get("restarted", FIXED) == FIXED
    assert _fixes(got["audit_after"], "ban-bypass") == []


@needs_tools
def test_ipset_jails_in_docker_user_miss_the_host_port_and_the_host_until_fixed(shapes):
    got = shapes["ipset-docker-user"]
    assert got["before"] == {"wan-web": "allow", "lan-web": "allow", "wan-hostsvc": "allow",
                             "lan-hostsvc": "allow"}
    dead, gap = got["fixes"]
    assert dead["id"] == "dnat-dead-rule" and dead["fix"].endswith("[web]\nport = 80")
    assert dead["explanation"].startswith(f"jail web's bans ({BANNED}, in ipset f2b-web) "
                                          "never match")
    assert gap["id"] == "ban-host-gap" and gap["subject"].startswith("jail svc tcp/")
    assert dead["fix_verified"] is True and gap["fix_verified"] is True
    assert got["after"] == FIXED and got["reloaded"] == FIXED and got["restarted"] == FIXED
    after = got["audit_after"]
    assert _fixes(after, "dnat-dead-rule") == [] and _fixes(after, "ban-host-gap") == []


# -- CrowdSec's firewall bouncer: iptables mode, then nftables mode, on one lab host -----------

def as_printed_bouncer(ctx, bouncer, fix: str) -> None:
    """The nftables-mode fix as printed, in the order `systemctl restart` runs it: the bouncer
    stops (deleting its own table), ExecStartPre loads the printed table file (written under the
    lab's folder instead of /etc/crowdsec), the bouncer starts with `set-only: true`."""
    lines = fix.splitlines()
    start = lines.index(f"# {bans.BOUNCER_TABLE_FILE}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("# "))
    table = bouncer.root / "crowdsec-table.nft"
    table.write_text("\n".join(lines[start:end]) + "\n")
    [pre] = [line for line in lines if line.startswith("ExecStartPre=")]
    assert "    set-only: true" in lines
    bouncer.stop()
    ctx.sh(pre.removeprefix("ExecStartPre=").replace(bans.BOUNCER_TABLE_FILE, str(table)))
    bouncer.start([], mode="nftables", set_only=True)


@pytest.fixture(scope="module")
def bounced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crowdsec")
    sc = load("seed001_input_bypass")
    got: dict[str, dict] = {}
    with Lab() as lab:
        ctx = run.build(lab, sc, Variant("crowdsec", "real bouncer", HOST_INPUT))
        ctx.scenario_flows = sc.flows
        try:
            lapi = crowdsec.Crowdsec(lab, ctx.host, lab.state_dir / "crowdsec-lapi")
            lapi.start()
            lapi.ban(BANNED)  # `cscli decisions add --ip`, through the real local API
            got["lapi"] = {"real": lapi.cscli("decisions", "list", "-o", "json")}
        except versions.VersionMissing as exc:  # no crowdsec package: the stand-in answers
            lapi, got["lapi"] = None, {"stand-in": str(exc)}
        bouncer = fail2ban.Bouncer(lab, ctx.host, lab.state_dir / "crowdsec", [BANNED],
                                   lapi=lapi is None)
        try:
            for name, chains in (("input", ["INPUT"]), ("docker-user", ["INPUT", "DOCKER-USER"])):
                bouncer.start(chains)
                got[name] = {"verdicts": verdicts(ctx), "rules": ctx.sh("iptables -S"),
                             "findings": audit(ctx, tmp / name)}
            bouncer.start([], mode="nftables")
            nft = {"verdicts": verdicts(ctx), "ruleset": ctx.sh("nft list table ip crowdsec"),
                   "findings": audit(ctx, tmp / "nftables")}
            [f] = _fixes(nft["findings"], "ban-bypass")
            as_printed_bouncer(ctx, bouncer, f["fix"])
            nft.update(fixed=verdicts(ctx), fixed_ruleset=ctx.sh("nft list table ip crowdsec"),
                       audit_after=audit(ctx, tmp / "nftables-fixed"))
            as_printed_bouncer(ctx, bouncer, f["fix"])  # the service restarted: idempotent
            nft.update(again=verdicts(ctx), again_ruleset=ctx.sh("nft list table ip crowdsec"))
            got["nftables"] = nft
            yield got
        finally:
            bouncer.stop()
            ctx.docker.stop()


@needs_tools
def test_the_bouncer_pulls_the_decision_from_crowdsecs_real_local_api(bounced):
    """Debian's crowdsec 1.4.6 runs offline (lab/crowdsec.py); the stand-in is only used when
    its package cannot be fetched."""
    assert "real" in bounced["lapi"], bounced["lapi"]
    [alert] = json.loads(bounced["lapi"]["real"])
    assert [(d["value"], d["type"], d["origin"]) for d in alert["decisions"]] == [
        (BANNED, "ban", "cscli")]


@needs_tools
def test_the_bouncers_default_input_chain_misses_the_published_port(bounced):
    got = bounced["input"]
    assert got["verdicts"] == {"wan-web": "allow", "lan-web": "allow",
                               "wan-hostsvc": "deny", "lan-hostsvc": "allow"}
    assert "-A INPUT -m set --match-set crowdsec-blacklists src -j DROP" in got["rules"]
    [f] = _fixes(got["findings"], "ban-bypass")
    assert f["subject"].startswith("CrowdSec's bouncer") and "DOCKER-USER" in f["fix"]
    assert f["fix_verified"] is True, f["verification"]  # the set's members are read now


@needs_tools
def test_the_bouncer_with_docker_user_in_iptables_chains_refuses_the_banned(bounced):
    """The printed fix: `iptables_chains: [INPUT, DOCKER-USER]`."""
    got = bounced["docker-user"]
    assert got["verdicts"] == FIXED
    assert "-A DOCKER-USER -m set --match-set crowdsec-blacklists src -j DROP" in got["rules"]
    assert _fixes(got["findings"], "ban-bypass") == []


@needs_tools
def test_the_bouncers_nftables_mode_hooks_input_only_and_misses_the_published_port(bounced):
    got = bounced["nftables"]
    assert got["verdicts"] == {"wan-web": "allow", "lan-web": "allow",
                               "wan-hostsvc": "deny", "lan-hostsvc": "allow"}
    assert "hook input priority filter" in got["ruleset"] and "hook forward" not in \
        got["ruleset"]
    [f] = _fixes(got["findings"], "ban-bypass")
    assert f["explanation"].startswith(f"CrowdSec's bouncer's bans ({BANNED}, in set "
                                       "crowdsec-blacklists) do not cover published port")
    assert "set-only: true" in f["fix"] and f["fix_verified"] is True
    assert _fixes(got["findings"], "input-bypass") == []


@needs_tools
def test_the_bouncers_set_only_fix_refuses_the_banned_at_both(bounced):
    got = bounced["nftables"]
    assert got["fixed"] == FIXED and got["again"] == FIXED
    assert "hook forward" in got["fixed_ruleset"]
    assert got["again_ruleset"].count("saddr @crowdsec-blacklists drop") == 2
    assert _fixes(got["audit_after"], "ban-bypass") == []
