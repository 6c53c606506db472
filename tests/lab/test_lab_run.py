"""One real lab, shared by the module: a scenario on a real kernel with a real dockerd.

dockerd startup is the slow part, so the module builds seed001 (fixed) once and every test
probes that one lab; the last checks are that teardown leaves nothing behind.
"""

from __future__ import annotations

import shutil

import pytest

from nflens.lab import probes, run
from nflens.lab.netns import Lab, leftovers
from nflens.lab.scenarios import load

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dockerd", "busybox", "nsenter", "iptables")),
    reason="needs dockerd, busybox-static, nsenter and iptables")


@pytest.fixture(scope="module")
def lab_ctx():
    sc = load("seed001")
    with Lab() as lab:
        ctx = run.build(lab, sc, sc.variant("fixed"))
        yield ctx
        ctx.docker.stop()
    assert leftovers(lab.id) == []


@needs_tools
def test_published_port_is_reachable_from_the_lan(lab_ctx):
    result = probes.from_netns(lab_ctx.topo.client_for("eth0"), "10.99.0.1", 8080)
    assert (result.outcome, result.token) == ("allow", "nflens:web")


@needs_tools
def test_ctorigdstport_rule_in_docker_user_drops_the_wan(lab_ctx):
    assert probes.from_netns(lab_ctx.topo.client_for("eth1"), "198.51.100.1", 8080).outcome \
        == "deny"


@needs_tools
def test_input_drop_policy_still_guards_the_host_service(lab_ctx):
    assert probes.from_netns(lab_ctx.topo.client_for("eth0"), "10.99.0.1", 8000).outcome \
        == "allow"
    assert probes.from_netns(lab_ctx.topo.client_for("eth1"), "198.51.100.1", 8000).outcome \
        == "deny"


@needs_tools
def test_host_local_connection_goes_through_docker_proxy(lab_ctx):
    result = probes.from_netns(lab_ctx.host, "127.0.0.1", 8080)
    assert (result.outcome, result.token) == ("allow", "nflens:web")


@needs_tools
def test_container_egress_is_masqueraded_to_the_wan_peer(lab_ctx):
    result = probes.from_container(lab_ctx.containers["web"], "198.51.100.2", 80)
    assert (result.outcome, result.token) == ("allow", "nflens:wan")


@needs_tools
def test_probe_all_agrees_across_rounds(lab_ctx):
    outcomes = run.probe_all(lab_ctx, load("seed001").flows[:2], rounds=2)
    assert [(o.name, o.outcome, o.flaky) for o in outcomes] == [
        ("lan-web", "allow", False), ("wan-web", "deny", False)]


@needs_tools
def test_nothing_of_the_lab_is_in_the_root_namespace(lab_ctx):
    import subprocess

    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    inside = subprocess.run(["nsenter", f"--net=/run/netns/{lab_ctx.host}", "ip", "-o", "link"],
                            capture_output=True, text=True).stdout
    assert "docker0" in inside and "eth1" in inside
    assert "nfl-" not in links and lab_ctx.lab.id not in links
