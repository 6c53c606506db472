"""The host-firewall lab pieces that need no root: names, binaries, UDP outcomes, flows."""

from __future__ import annotations

import time

import pytest

from nflens.errors import ToolError
from nflens.lab import hostfw, udp
from nflens.lab.scenarios import load
from nflens.lab.topology import LAN, WAN


def test_an_unknown_manager_is_refused_with_the_known_ones():
    with pytest.raises(ToolError, match="unknown host firewall 'shorewall'.*ufw, firewalld"):
        hostfw.manager("shorewall")


def test_a_udp_flow_is_allowed_only_when_the_token_came_back():
    now = time.monotonic()
    assert udp.outcome(0, "nflens:radius\n", "", now)[:2] == ("allow", "nflens:radius")
    verdict, token, why, _ = udp.outcome(1, "", "TimeoutError: timed out\n", now)
    assert (verdict, token, why) == ("deny", None, "TimeoutError: timed out")
    assert udp.outcome(0, "hello\n", "", now)[0] == "deny"


def test_the_radius_flows_are_udp_in_the_flows_file():
    sc = load("firewalld_zones")
    addrs = {"eth0": [LAN["client"].split("/")[0]], "eth1": [WAN["client"].split("/")[0]]}
    flows = {f.name: f.contract(addrs) for f in sc.flows}
    assert flows["wan-radius"] == {"name": "wan-radius",
                                   "from": {"iface": "eth1", "src": "198.51.100.2"},
                                   "to": {"addr": "198.51.100.1", "port": 1812, "proto": "udp"}}
    assert sc.firewall == "firewalld" and load("ufw_docker").firewall == "ufw"


def test_manager_variants_run_their_commands_before_dockerd():
    for name in ("ufw_docker", "firewalld_zones"):
        for variant in load(name).variants:
            assert variant.boot and not variant.setup, (name, variant.name)
    assert load("ufw_docker").variant("broken").boot[-1] == "ufw --force enable"


def test_nsenter_enters_a_namespace_file_by_its_absolute_path():
    """lab/udp.py runs its server in a container's /proc/PID/ns/net; the merged process seam
    made that `/run/netns//proc/PID/ns/net` (every firewalld_zones host failed to build)."""
    from nflens.lab.netns import nsenter

    assert nsenter("/proc/42/ns/net", ["true"])[:2] == ["nsenter", "--net=/proc/42/ns/net"]
    assert nsenter("nfl-x-host", ["true"])[:2] == ["nsenter", "--net=/run/netns/nfl-x-host"]


def test_seed002_has_the_seeds_own_networks_and_a_second_lan_source():
    """seed002_radius overrides the LAN plan (the seed's 10.254.10.0/24); a flow with `saddr`
    sends from the client's extra address (CONTRACT §3 `src`), the others from its first."""
    from nflens.lab import topology
    from nflens.lab.udp import client_argv

    sc = load("seed002_radius")
    lan, wan = topology.plans(sc.addressing)
    assert lan["host"] == "10.254.10.252/24" and lan["client"] == "10.254.10.105/24"
    assert lan["extra"] == ("10.254.20.5/24",) and wan == topology.WAN
    assert topology.plans(None) == (topology.LAN, topology.WAN)
    addrs = {"eth0": ["10.254.10.105", "10.254.20.5"], "eth1": ["198.51.100.2"]}
    flows = {f.name: f.contract(addrs) for f in sc.flows}
    assert flows["nas-radius"]["from"] == {"iface": "eth0", "src": "10.254.10.105"}
    assert flows["lan-radius"]["from"] == {"iface": "eth0", "src": "10.254.20.5"}
    assert flows["lan-radius"]["to"] == {"addr": "10.254.10.252", "port": 1812, "proto": "udp"}
    assert client_argv("10.254.10.252", 1812, 2, "10.254.20.5")[-1] == "10.254.20.5"
    assert client_argv("10.254.10.252", 1812, 2)[-1] == "2"
    assert {f.saddr for f in sc.flows if f.saddr and f.proto != "udp"} == set()


def test_a_chosen_source_address_is_refused_for_tcp_probes():
    from nflens.lab.probes import from_netns

    with pytest.raises(ValueError, match="UDP probes only"):
        from_netns("nfl-none-host", "10.254.10.252", 8080, "tcp", src="10.254.20.5")
