"""Issue 24, the netfilter classes, on a real kernel: tiny hosts built in network namespaces.

The fuzzer's world (client A — router R — client B, src/nflens/lab/fuzz/world.py) with rules
written by hand: loaded with iptables-restore / nft -f as a user would, dumped the way the
collector dumps them (iptables-save, nft -j list ruleset), every flow probed twice (fresh
source ports, conntrack flushed between), and nflens's verdict compared with the kernel's. Each
scenario also pins the kernel's own outcome, so a scenario that stopped exercising its class
(the kernel's answer changed) fails instead of passing vacuously.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from nflens.flows import flow_from_dict
from nflens.kernel.simulate import Simulator
from nflens.lab.fuzz.flows import ProbeSpec
from nflens.lab.fuzz.runner import Case, dump, load, serving, simulate
from nflens.lab.fuzz.sockets import entered, probe_all
from nflens.lab.fuzz.world import World, addresses
from nflens.lab.netns import Lab, run_in
from nflens.snapshot.read import read_snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("nft", "iptables-restore", "conntrack",
                                                         "nsenter")),
                       reason="needs nft, iptables-restore, conntrack and nsenter"),
]


TPROXY_PORT = 8444  # the router's transparent listener (class 12)
IP_TRANSPARENT = 19  # include/uapi/linux/in.h


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    kept: list[socket.socket] = []
    try:
        with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-nfdec-") as tmp, \
                serving(lab, Path(tmp), lambda w: _tproxy_host(w, kept)) as w:
            yield w
    finally:
        for s in kept:
            s.close()


def _tproxy_host(world: World, kept: list[socket.socket]) -> None:
    """The usual TPROXY setup on the router: marked packets route locally
    (`ip rule fwmark 1 lookup 100`, `local 0.0.0.0/0 dev lo table 100`), and a listener with
    IP_TRANSPARENT on TPROXY_PORT. The kernel completes handshakes on a listening socket
    without accept(), so nothing needs to serve it."""
    r = world.ns["r"]
    run_in(r, ["ip", "rule", "add", "fwmark", "0x1", "lookup", "100"])
    run_in(r, ["ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100"])
    with entered(r):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    kept.append(s)
    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.bind(("0.0.0.0", TPROXY_PORT))
    s.listen(64)


_SPORT = iter(range(31000, 39000, 2))


def flow(name: str, role: str, src: str | None, dst: str, dport: int,
         proto: str = "tcp") -> ProbeSpec:
    return ProbeSpec(name, role, src, next(_SPORT), dst, dport, proto)


def kernel_and_nflens(world: World, tmp: Path, iptables: str | None, nft: str | None,
                      probes: list[ProbeSpec],
                      version: int = 4) -> tuple[dict[str, str], dict[str, str]]:
    """Load the rules, snapshot them, ask nflens, then probe every flow twice on the kernel
    (the two rounds must agree: a flaky probe proves nothing)."""
    case = Case(0, 0, version, iptables, nft, probes)
    load(world, case)
    snap = tmp / "snap"
    dump(world, snap)
    said, _ = simulate(snap, case)
    first = probe_all(probes, world.ns, version)
    run_in(world.ns["r"], ["conntrack", "-F"], check=False, runner=world.lab.runner)
    second = probe_all([replace(p, sport=p.sport + 1) for p in probes], world.ns, version)
    assert first == second, (first, second)
    return first, said


A1, A2 = addresses("a", 4)
B1, B2 = addresses("b", 4)
R_A = "10.1.0.1"

# --- class 11: a native `table ip filter` / `table ip nat` beside iptables-nft ------------------
NATIVE_FILTER_AND_NAT = """\
table ip filter {
  chain input { type filter hook input priority 0; policy drop; tcp dport 22 accept; }
}
table ip nat {
  chain prerouting { type nat hook prerouting priority -100; tcp dport 8443 dnat to 10.2.0.2:80; }
}
"""
IPTABLES_FORWARD = """\
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -p tcp -m multiport --dports 443 -j DROP
COMMIT
"""


def test_a_native_ip_filter_and_ip_nat_beside_iptables_nft_are_read_from_nft_json(world,
                                                                                  tmp_path):
    """iptables-save prints both tables as stubs ("incompatible base-chains"); the stub read as
    the table made INPUT wide open and the DNAT vanish (issue 24 class 11)."""
    probes = [flow("input-22", "a", A1, R_A, 22), flow("input-80-dropped", "a", A1, R_A, 80),
              flow("dnat-8443", "a", A1, R_A, 8443),
              flow("fwd-443-xt-drop", "a", A1, B1, 443), flow("fwd-80", "a", A1, B1, 80)]
    kernel, said = kernel_and_nflens(world, tmp_path, IPTABLES_FORWARD, NATIVE_FILTER_AND_NAT,
                                     probes)
    assert kernel == {"input-22": "allow", "input-80-dropped": "deny", "dnat-8443": "allow",
                      "fwd-443-xt-drop": "deny", "fwd-80": "allow"}
    assert (tmp_path / "snap" / "iptables-save.txt").read_text().count(
        "contains incompatible base-chains") == 2
    assert said == kernel


# --- class 6: equal priorities, the chain registered last runs first ---------------------------
EQUAL_PRIORITIES = """\
table ip t1 {
  chain c { type filter hook forward priority 0; tcp dport 80 meta mark set 1; }
}
table ip t2 {
  chain c { type filter hook forward priority 0; meta mark 1 drop; }
}
table ip t3 {
  chain x { type filter hook forward priority 10; tcp dport 443 meta mark set 2; }
  chain y { type filter hook forward priority 10; meta mark 2 drop; }
}
table inet native {
  chain m { type filter hook forward priority -150; meta mark 3 drop; }
}
"""
MANGLE_MARK = """\
*mangle
:FORWARD ACCEPT [0:0]
-A FORWARD -p tcp --dport 8080 -j MARK --set-xmark 0x3/0xffffffff
COMMIT
"""


def test_of_two_base_chains_at_one_priority_the_newest_runs_first(world, tmp_path):
    """Each pair sets a mark in the older chain and drops on it in the newer: the kernel runs
    the newer first (nf_hook_entries_grow), so nothing is dropped; across tables, within a
    table, and an iptables-nft mangle chain against a native chain loaded after it."""
    probes = [flow("tables", "a", A1, B1, 80), flow("one-table", "a", A1, B1, 443),
              flow("iptables-then-nft", "a", A1, B1, 8080), flow("unmarked", "a", A1, B1, 22)]
    kernel, said = kernel_and_nflens(world, tmp_path, MANGLE_MARK, EQUAL_PRIORITIES, probes)
    assert kernel == dict.fromkeys(kernel, "allow")
    assert said == kernel


# In each pair a chain sets mark 5 on its port and the other drops what carries it. `u`: table
# u1 made, u2 made, u1 deleted and made again (now the newest table: listed last). `t`: t1,
# t2, then a chain added to t1 (the newest chain, yet listed with the oldest table).
EQUAL_PRIORITY_AGES = """\
table ip u1 { chain c { type filter hook forward priority 0; tcp dport 443 meta mark set 5; }; }
table ip u2 { chain c { type filter hook forward priority 0; tcp dport 443 meta mark 5 drop; }; }
delete table ip u1
table ip u1 { chain c { type filter hook forward priority 0; tcp dport 443 meta mark set 5; }; }
table ip t1 { chain early { type filter hook forward priority 0; }; }
table ip t2 { chain c { type filter hook forward priority 0; tcp dport 80 meta mark 5 drop; }; }
add chain ip t1 late { type filter hook forward priority 0; }
add rule ip t1 late tcp dport 80 meta mark set 5
"""


def test_equal_priorities_follow_chain_age_not_table_order(world, tmp_path):
    """nft.json's order is the registration order for whole tables, re-created ones included
    (a table made again is listed last and runs first: both say deny), but not for a chain
    added later to an older table: it runs first (the kernel drops), yet is listed with its
    table before the newer one, and nflens, which cannot see chain ages, says allow — naming
    that assumption in `assumptions`."""
    probes = [flow("recreated-table", "a", A1, B1, 443), flow("chain-added-later", "a", A1, B1, 80),
              flow("untouched", "a", A1, B1, 22)]
    kernel, said = kernel_and_nflens(world, tmp_path, None, EQUAL_PRIORITY_AGES, probes)
    assert kernel == {"recreated-table": "deny", "chain-added-later": "deny", "untouched": "allow"}
    assert said == {"recreated-table": "deny", "chain-added-later": "allow", "untouched": "allow"}
    sim = Simulator(read_snapshot(tmp_path / "snap"))
    late = sim.run(flow_from_dict(probes[1].flow_json(), "flows.json"))
    assert any("ip t2/c" in a and "chain added to the older table later" in a
               for a in late.assumptions), late.assumptions
    untouched = sim.run(flow_from_dict(probes[2].flow_json(), "flows.json"))
    assert not any("older table" in a for a in untouched.assumptions)


# --- class 7: nat chains run at the NAT core's hook, not at their own priority ------------------
NAT_AT_ODD_PRIORITIES = """\
table ip n {
  chain early { type nat hook prerouting priority -150; tcp dport 8443 dnat to 10.2.0.2:80;
                tcp dport 8080 dnat to 10.2.0.2:80; }
  chain late { type nat hook prerouting priority -90; tcp dport 8080 dnat to 10.1.0.1:9999; }
}
table ip f {
  chain pre { type filter hook prerouting priority -120; ip daddr 10.2.0.2 tcp dport 80 drop; }
}
"""


def test_a_nat_chain_at_minus_150_rewrites_after_a_filter_chain_at_minus_120(world, tmp_path):
    """The filter chain at -120 sees the original destination (NAT runs at -100), so the DNAT
    to 10.2.0.2:80 it would drop goes through; among nat chains, -150 runs before -90."""
    probes = [flow("dnat-after-filter", "a", A1, R_A, 8443),
              flow("nat-order", "a", A1, R_A, 8080),
              flow("direct-dropped", "a", A1, B1, 80)]
    kernel, said = kernel_and_nflens(world, tmp_path, None, NAT_AT_ODD_PRIORITIES, probes)
    assert kernel == {"dnat-after-filter": "allow", "nat-order": "allow",
                      "direct-dropped": "deny"}
    assert said == kernel


# --- class 8: NAT to an address range picks by a hash of the connection's addresses -------------
NAT_RANGE = """\
table ip n {
  chain pre { type nat hook prerouting priority -100;
              tcp dport 8443 dnat to 10.2.0.2-10.2.0.3;
              tcp dport 8080 dnat to 10.2.0.2-10.2.0.3 persistent; }
}
table ip f {
  chain forward_f { type filter hook forward priority 0; ip daddr 10.2.0.3 drop; }
}
"""


def test_dnat_to_a_range_takes_the_address_find_best_ips_proto_hashes_to(world, tmp_path):
    """10.2.0.3 is dropped, so each flow's verdict says which address the kernel chose; the
    lowest address (the old model) would allow all eight."""
    probes = [flow(f"{port}-{src}-{dst}", "a", src, dst, port)
              for port in (8443, 8080) for src in (A1, A2) for dst in (R_A, "10.2.0.1")]
    kernel, said = kernel_and_nflens(world, tmp_path, None, NAT_RANGE, probes)
    assert sorted(kernel.values()).count("deny") == 4, kernel  # the hash spreads them
    assert said == kernel


NAT_RANGE6 = """\
table ip6 n {
  chain pre { type nat hook prerouting priority -100; tcp dport 8443 dnat to fd02::2-fd02::3;
              tcp dport 8080 dnat to fd02::2-fd02::3 persistent; }
}
table ip6 f {
  chain forward_f { type filter hook forward priority 0; ip6 daddr fd02::3 drop; }
}
"""


def test_dnat_to_an_ipv6_range_hashes_all_four_words(world, tmp_path):
    dsts = addresses("r", 6) + addresses("b", 6)
    probes = [flow(f"{port}-{src}-{dst}", "a", src, dst, port) for port in (8443, 8080)
              for src in addresses("a", 6) for dst in dsts]
    kernel, said = kernel_and_nflens(world, tmp_path, None, NAT_RANGE6, probes, version=6)
    assert set(kernel.values()) == {"allow", "deny"}, (kernel, said)
    assert said == kernel


# --- class 10: NAT from a map, numgen, redirect to a mapped port --------------------------------
NAT_MAPS = """\
table ip n {
  map ports { type inet_service : ipv4_addr; elements = { 22 : 10.2.0.3 } }
  chain pre { type nat hook prerouting priority -100;
    tcp dport 8443 dnat to ip saddr map { 10.1.0.2 : 10.2.0.2, 10.1.0.3 : 10.2.0.3 }
    tcp dport 8080 dnat ip to ip saddr map { 10.1.0.2 : 10.2.0.2 . 9999, 10.1.0.3 : 10.2.0.2 . 80 }
    tcp dport 22 dnat to tcp dport map @ports
    tcp dport 443 dnat to numgen inc mod 2 map { 0 : 10.2.0.2, 1 : 10.2.0.3 }
    ip daddr 10.2.0.1 tcp dport 80 redirect to :tcp dport map { 80 : 9999 }
  }
}
table ip f {
  chain forward_f { type filter hook forward priority 0; ip daddr 10.2.0.3 drop;
                    tcp dport 9999 drop; }
}
"""


def test_nat_from_a_map_is_applied_and_numgen_is_uncertain(world, tmp_path):
    """Each map sends some flows to the dropped 10.2.0.3 (or the dropped port 9999, or the
    router's closed 9999), so the verdict shows the map was applied; before, the original
    address was kept and every one of them read as allowed."""
    probes = [flow("addr-map-2", "a", A1, R_A, 8443), flow("addr-map-3", "a", A2, R_A, 8443),
              flow("concat-9999", "a", A1, R_A, 8080), flow("concat-80", "a", A2, R_A, 8080),
              flow("named-map", "a", A1, R_A, 22),
              flow("redirect-map", "a", A1, "10.2.0.1", 80)]
    kernel, said = kernel_and_nflens(world, tmp_path, None, NAT_MAPS, probes)
    assert kernel == {"addr-map-2": "allow", "addr-map-3": "deny", "concat-9999": "deny",
                      "concat-80": "allow", "named-map": "deny", "redirect-map": "deny"}
    assert said == kernel
    # numgen's counter is kernel state no snapshot shows: nflens says uncertain, naming it,
    # and the kernel indeed gives both outcomes to two consecutive connections
    numgen = flow("numgen", "a", A1, R_A, 443)
    result = Simulator(read_snapshot(tmp_path / "snap")).run(
        flow_from_dict(numgen.flow_json(), "flows.json"))
    assert result.verdict == "uncertain"
    assert "numgen" in " ".join(result.uncertain_because)
    seen = {probe_all([replace(numgen, sport=numgen.sport + i)], world.ns, 4)["numgen"]
            for i in (0, 1)}
    assert seen == {"allow", "deny"}


# --- class 12: TPROXY delivers to a transparent local listener ----------------------------------
TPROXY_IPTABLES = """\
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 10.2.0.2/32 -p tcp -m tcp --dport 80 -j TPROXY --on-port 8444 --tproxy-mark 0x1/0x1
-A PREROUTING -d 10.2.0.2/32 -p tcp -m tcp --dport 443 -j TPROXY --on-port 8445 --tproxy-mark 0x1
COMMIT
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -p tcp -m multiport --dports 80,443,8080 -j DROP
COMMIT
"""
TPROXY_NFT = """\
table ip tp {
  chain pre { type filter hook prerouting priority -150;
    ip daddr 10.2.0.2 tcp dport 8080 tproxy to :8444 meta mark set 1 accept
    ip daddr 10.2.0.2 tcp dport 22 tproxy to :8446 meta mark set 1 accept
    ip daddr 10.2.0.2 tcp dport 8443 tproxy to :8444
  }
}
"""


def test_tproxy_hands_a_forwarded_flow_to_the_transparent_listener(world, tmp_path):
    """Flows to 10.2.0.2 that FORWARD would drop are accepted locally by the listener on 8444;
    iptables' TPROXY without a listener drops; nft's breaks the rule (the packet goes on to
    B); a socket assigned without a local route is dropped by ip_forward."""
    probes = [flow("ipt-diverted", "a", A1, B1, 80), flow("ipt-no-listener", "a", A1, B1, 443),
              flow("nft-diverted", "a", A1, B1, 8080), flow("nft-no-listener", "a", A1, B1, 22),
              flow("nft-not-local", "a", A1, B1, 8443)]
    kernel, said = kernel_and_nflens(world, tmp_path, TPROXY_IPTABLES, TPROXY_NFT, probes)
    assert kernel == {"ipt-diverted": "allow", "ipt-no-listener": "deny",
                      "nft-diverted": "allow", "nft-no-listener": "allow",
                      "nft-not-local": "deny"}
    assert said == kernel
