"""Issue 13.5 in the lab: `nflens policy apply` on a host run by the real ufw / firewalld, and
what the manager's reload does to nflens' chains (what policy/coexist.py tells the admin).

apply runs inside the host's network and mount namespaces (so it reads the host's own
/etc/ufw, /etc/firewalld), with no confirm timer."""

from __future__ import annotations

import shlex
import sys
import time

import pytest

from nflens.lab import nativefix
from tests.lab.test_lab_hostfw import _built, needs_tools
from tests.lab.test_lab_native_fix import verdicts
from tests.policy.test_seeds import FWD_POLICY

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]

POLICY = """version: 1
groups:
  office: [10.99.0.0/24]
inbound:
  default: closed
  ports:
    - {container: tomcat, port: 80, from: [office]}
"""
FLOWS = ("lan-tomcat", "wan-tomcat", "wan-web")


def apply(ctx, tmp, text: str = POLICY, force: bool = False, rc: int = 0) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    policy = tmp / "policy.yaml"
    policy.write_text(text)
    argv = [sys.executable, "-m", "nflens", "policy", "apply", str(policy), "--docker-host",
            ctx.docker.url, "--state-dir", str(tmp / "state"), "--confirm-timeout", "0",
            "--ssh-connection", ""] + (["--force"] if force else [])
    proc = ctx.mounts.sh(" ".join(shlex.quote(a) for a in argv) + " 2>&1", timeout=120,
                         check=False)
    assert proc.returncode == rc, proc.stdout
    return proc.stdout


def jumped(ctx) -> bool:
    """Read with nft: after `firewall-cmd --reload` iptables-nft 1.8.9 refused to list
    DOCKER-USER ("incompatible, use 'nft' tool")."""
    return "jump NFLENS-USER" in ctx.sh("nft list chain ip filter DOCKER-USER")


@pytest.fixture(scope="module", params=["broken", "ufw-docker"])
def ufw_ctx(request):
    yield from _built("ufw_docker", request.param)


@needs_tools
def test_policy_on_a_ufw_host_and_ufw_reload(ufw_ctx, tmp_path):
    out = apply(ufw_ctx, tmp_path)
    assert "note: ufw manages this host's firewall" in out
    assert verdicts(ufw_ctx_flows(ufw_ctx), FLOWS) == {
        "lan-tomcat": "allow", "wan-tomcat": "deny", "wan-web": "deny"}
    declares = "declares DOCKER-USER" in out
    ufw_ctx.sh("ufw reload")
    assert "NFLENS-USER" in ufw_ctx.sh("nft list table ip filter")  # the chain survives
    # what the note said: the jump survives unless after.rules declares DOCKER-USER
    assert jumped(ufw_ctx) is not declares
    assert declares is ("BEGIN UFW AND DOCKER" in ufw_ctx.sh("cat /etc/ufw/after.rules"))
    apply(ufw_ctx, tmp_path / "again")
    assert jumped(ufw_ctx)


def ufw_ctx_flows(ctx):
    from nflens.lab.scenarios import load

    ctx.scenario_flows = load("ufw_docker").flows
    return ctx


@pytest.fixture(scope="module", params=["zones", "direct-docker-user"])
def fwd_ctx(request):
    yield from _built("firewalld_zones", request.param)


@needs_tools
def test_policy_on_a_firewalld_host_and_firewalld_reload(fwd_ctx, tmp_path):
    from nflens.lab.scenarios import load

    fwd_ctx.scenario_flows = load("firewalld_zones").flows
    # no --force (apply refuses a plan that is NOT OK): the office's direct connection to the
    # proxy's own address, which firewalld's zones reject in its own table (lab:
    # lan-radius-direct deny), is expected denied in the proof as firewalld's decision
    # (policy/verify.py), so the plan holds.
    out = apply(fwd_ctx, tmp_path, FWD_POLICY)
    assert "note: firewalld manages this host's firewall" in out
    assert verdicts(fwd_ctx, ("wan-proxy", "wan-radius")) == {"wan-proxy": "deny",
                                                             "wan-radius": "deny"}
    fwd_ctx.sh("firewall-cmd --reload")
    # Docker re-creates its chains on firewalld's Reloaded signal, asynchronously
    deadline = time.monotonic() + 15
    while fwd_ctx.mounts.sh("nft list chain ip filter DOCKER-USER", check=False).returncode \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    # measured: what firewalld's reload leaves of nflens' chains
    kept = "NFLENS-USER" in fwd_ctx.sh("nft list table ip filter")
    # measured on zones and direct-docker-user alike: both gone (what apply's note says)
    assert (kept, jumped(fwd_ctx)) == (False, False)
    assert "flushes the iptables rules" in out
    # Measured (Docker 20.10, both variants): dockerd re-creates its chains on firewalld's
    # Reloaded signal with the DOCKER-USER jump *appended*, after its own accepts, so rules in
    # DOCKER-USER no longer decide anything. The proof sees it: a re-apply is refused (NOT OK,
    # the WAN still reaches the proxy) ...
    refused = apply(fwd_ctx, tmp_path / "again", FWD_POLICY, rc=2)
    assert "inbound eth1:198.51.100.2 -> proxy 198.51.100.1:8080/tcp: expected deny" in refused
    forward = [line for line in fwd_ctx.sh("nft list chain ip filter FORWARD").splitlines()
               if "counter" in line]
    assert [i for i, line in enumerate(forward) if "jump DOCKER-USER" in line] == [
        len(forward) - 1]
    # ... and the kernel agrees: forced, the rules are in place and the WAN gets through
    apply(fwd_ctx, tmp_path / "forced", FWD_POLICY, force=True)
    assert jumped(fwd_ctx)
    assert verdicts(fwd_ctx, ("wan-proxy", "lan-proxy")) == {"wan-proxy": "allow",
                                                            "lan-proxy": "allow"}
    # The refusal says why and what cures it; the cure, measured: dockerd inserts the jump at
    # FORWARD's top when it starts, and the policy applies (no --force) and holds again.
    assert "FORWARD jumps to DOCKER-USER only at rule" in refused
    assert "systemctl restart docker" in refused
    nativefix.restart_dockerd(fwd_ctx, {"radius": (1812,)})
    forward = [line for line in fwd_ctx.sh("nft list chain ip filter FORWARD").splitlines()
               if "counter" in line]
    assert "jump DOCKER-USER" in forward[0]
    apply(fwd_ctx, tmp_path / "cured", FWD_POLICY)
    assert verdicts(fwd_ctx, ("wan-proxy", "lan-proxy")) == {"wan-proxy": "deny",
                                                            "lan-proxy": "allow"}
