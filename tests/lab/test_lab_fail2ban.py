"""fail2ban's bans on a real kernel (issue 26): the findings' claims and their jail fixes.

The seed 001 lab host (Docker 20.10, web published 8080 -> 80, a host service on 8000, INPUT
policy DROP admitting 8000 and 8080), with fail2ban's rules made by the very commands its
action.d/iptables.conf (iptables-multiport) runs: actionstart `-N f2b-<name>`, `-A f2b-<name>
-j RETURN`, `-I <chain> -p tcp -m multiport --dports <port> -j f2b-<name>`; actionban `-I
f2b-<name> 1 -s <ip> -j REJECT --reject-with icmp-port-unreachable`. The banned address is
the WAN client's (198.51.100.2), the LAN client (10.99.0.2) is not banned.

The test probes, audits the snapshot, then applies the jail.local override the audit printed
the way fail2ban would (`fail2ban-client reload`: a changed `port =` restarts the action with
the new port; a second action starts in its chain and gets every current ban of the jail) and
probes again. The real fail2ban-server reading that jail.local is the next step; here its
action's commands stand in for it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from nflens.lab import run
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


def actionstart(name: str, chain: str, port: str) -> tuple[str, ...]:
    return (f"iptables -N f2b-{name}", f"iptables -A f2b-{name} -j RETURN",
            f"iptables -I {chain} -p tcp -m multiport --dports {port} -j f2b-{name}")


def actionban(name: str, ip: str) -> str:
    return f"iptables -I f2b-{name} 1 -s {ip} -j REJECT --reject-with icmp-port-unreachable"


def _host(variant: str, setup: tuple[str, ...]):
    sc = load("seed001_input_bypass")
    with Lab() as lab:
        ctx = run.build(lab, sc, Variant(variant, "fail2ban shapes", HOST_INPUT + setup))
        ctx.scenario_flows = sc.flows
        try:
            yield ctx
        finally:
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


def bans_of(ctx, jail: str) -> list[str]:
    out = ctx.sh(f"iptables -S f2b-{jail}")
    return [m.group(1).removesuffix("/32") for m in re.finditer(r"-s (\S+) -j REJECT", out)]


def as_fail2ban_would(ctx, fix: str) -> list[str]:
    """The printed jail.local override, applied the way `fail2ban-client reload JAIL` does
    with iptables-multiport: a new `port =` stops and restarts the action with it (bans kept),
    a second `%(banaction)s[name=N, chain=C, ...]` starts action N and bans the jail's bans."""
    jail = re.search(r"^\[([^\]]+)\]$", fix, re.M).group(1)
    ran: list[str] = []
    port = re.search(r"^port = (\S+)$", fix, re.M)
    if port:
        spec = next(line for line in ctx.sh("iptables -S").splitlines()
                    if line.endswith(f"-j f2b-{jail}"))
        chain = spec.split()[1]
        ran += [f"iptables -D {spec[3:]}",
                f"iptables -I {chain} -p tcp -m multiport --dports {port.group(1)} -j f2b-{jail}"]
    second = re.search(r"%\(banaction\)s\[name=(\S+), chain=(\S+), protocol=tcp, "
                       r'port="(\S+)"\]', fix)
    if second:
        name, chain, p = second.groups()
        ran += list(actionstart(name, chain, p)) + [actionban(name, ip)
                                                      for ip in bans_of(ctx, jail)]
    for line in ran:
        ctx.sh(line)
    return ran


def _fixes(findings: list[dict], kind: str) -> list[dict]:
    return [f for f in findings if f["id"] == kind]


# -- jail in INPUT: its bans do not reach the published port -----------------------------------

@pytest.fixture(scope="module")
def input_jail(tmp_path_factory):
    setup = actionstart("web", "INPUT", "8000,8080") + (actionban("web", BANNED),)
    for ctx in _host("f2b-input", setup):
        tmp = tmp_path_factory.mktemp("f2b-input")
        before = verdicts(ctx)
        findings = audit(ctx, tmp / "before")
        [f] = _fixes(findings, "ban-bypass")
        ran = as_fail2ban_would(ctx, f["fix"])
        yield {"before": before, "finding": f, "findings": findings, "ran": ran,
               "after": verdicts(ctx), "audit_after": audit(ctx, tmp / "after")}


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


# -- jails in DOCKER-USER: a host port never matches; the host's service is unprotected --------

@pytest.fixture(scope="module")
def docker_user_jails(tmp_path_factory):
    setup = (actionstart("web", "DOCKER-USER", "8080") + (actionban("web", BANNED),)
             + actionstart("svc", "DOCKER-USER", "8000") + (actionban("svc", BANNED),))
    for ctx in _host("f2b-docker-user", setup):
        tmp = tmp_path_factory.mktemp("f2b-docker-user")
        before = verdicts(ctx)
        findings = audit(ctx, tmp / "before")
        dead = _fixes(findings, "dnat-dead-rule")
        gap = _fixes(findings, "ban-host-gap")
        ran = [line for f in dead + gap for line in as_fail2ban_would(ctx, f["fix"])]
        yield {"before": before, "dead": dead, "gap": gap, "ran": ran,
               "after": verdicts(ctx), "audit_after": audit(ctx, tmp / "after")}


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


def test_the_stand_in_follows_the_printed_text_only():
    """as_fail2ban_would derives its commands from the printed fix text alone."""
    class Fake:
        def __init__(self):
            self.lines: list[str] = []

        def sh(self, line: str) -> str:
            self.lines.append(line)
            if line == "iptables -S f2b-web":
                return ("-N f2b-web\n-A f2b-web -s 198.51.100.2/32 -j REJECT --reject-with "
                        "icmp-port-unreachable\n-A f2b-web -j RETURN\n")
            return ""
    fake = Fake()
    fix = ('# /etc/fail2ban/jail.local\n[web]\naction = %(action_)s\n'
           '         %(banaction)s[name=web-docker, chain=DOCKER-USER, protocol=tcp, port="80"]')
    assert as_fail2ban_would(fake, fix) == [
        *actionstart("web-docker", "DOCKER-USER", "80"), actionban("web-docker", BANNED)]
