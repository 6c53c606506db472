"""ipset and -m rpfilter on a real kernel (issue 25): the fuzzer's world (A — R — B), ipsets
of each type loaded with `ipset restore` on the router, iptables rules with `-m set` looking
at src, dst and both, a nomatch carve-out, --return-nomatch, a family mismatch (an inet6 set in
a list:set: iptables refuses an inet6 set itself in an IPv4 rule), a timeout
entry, a list:set; `-m rpfilter` strict, --loose and --validmark, with an asymmetric client
(A owns 192.0.2.5, which the router routes back through a second link). Every flow is probed
twice with real sockets; the snapshot is nflens's own collector run in the router's namespace
(so ipset-save.txt is what `snapshot collect` writes), and check must say what the kernel did.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from nflens.flows import flow_from_dict
from nflens.kernel.simulate import Simulator
from nflens.lab.fuzz.flows import ProbeSpec
from nflens.lab.fuzz.sockets import Servers, probe_all
from nflens.lab.fuzz.world import addresses, build, listening_ports
from nflens.lab.netns import Lab, leftovers, run_in
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot

pytestmark = [pytest.mark.lab, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("ipset", "iptables-restore", "nsenter", "conntrack")),
    reason="needs ipset, iptables-restore, conntrack and nsenter")]

IPSETS = """\
create ban hash:net family inet
add ban 10.1.0.0/24
add ban 10.1.0.3 nomatch
create ban6 hash:net family inet6
add ban6 fd01::/64
create svc hash:ip,port family inet
add svc 10.2.0.2,tcp:80
add svc 10.2.0.2,udp:443
create pair hash:net,port family inet
add pair 10.2.0.0/24,tcp:8080
create okports bitmap:port range 1-10000
add okports 22
create hosts hash:ip family inet timeout 600
add hosts 10.2.0.3 timeout 590
create any list:set
add any hosts
add any ban
create v6only list:set
add v6only ban6
"""
RULES = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 443 -m rpfilter --invert -j DROP
-A PREROUTING -p tcp -m tcp --dport 8443 -m rpfilter --loose --invert -j DROP
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -d 10.1.0.1 -j MARK --set-xmark 0x1/0xffffffff
-A PREROUTING -s 10.1.0.3 -p tcp -m tcp --dport 8080 -d 10.1.0.1 -m rpfilter --validmark --invert -j DROP
-A PREROUTING -s 10.1.0.2 -p tcp -m tcp --dport 8080 -d 10.1.0.1 -m rpfilter --invert -j DROP
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m multiport --dports 443,8443,8080 -j ACCEPT
-A INPUT -m set --match-set v6only src -j ACCEPT
-A INPUT -m set --match-set ban src -j DROP
-A INPUT -p tcp -m set --match-set okports dst -j ACCEPT
-A INPUT -p udp -m set ! --match-set any src -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m set --match-set svc dst,dst -j ACCEPT
-A FORWARD -m set --match-set pair dst,dst -j ACCEPT
-A FORWARD -m set --match-set ban src --return-nomatch -j ACCEPT
-A FORWARD -p tcp -m set --match-set hosts src -j ACCEPT
COMMIT
"""  # noqa: E501 - rules as iptables-save writes them
# (name, role, src, dst, dport, proto, what the kernel is expected to do and why)
FLOWS = [
    ("ban", "a", "10.1.0.2", "10.1.0.1", 22, "tcp", "deny"),        # in ban: dropped
    ("carve", "a", "10.1.0.3", "10.1.0.1", 22, "tcp", "allow"),     # nomatch; port in okports
    ("port", "a", "10.1.0.3", "10.1.0.1", 80, "tcp", "deny"),       # not in okports
    ("notany", "a", "10.1.0.3", "10.1.0.1", 80, "udp", "allow"),    # ! list:set
    ("inany", "b", "10.2.0.3", "10.2.0.1", 80, "udp", "deny"),      # timeout entry of hosts
    ("notany-b", "b", "10.2.0.2", "10.2.0.1", 80, "udp", "allow"),
    ("svc", "a", "10.1.0.2", "10.2.0.2", 80, "tcp", "allow"),       # hash:ip,port dst,dst
    ("svc-udp", "a", "10.1.0.2", "10.2.0.2", 443, "udp", "allow"),
    ("svc-other", "a", "10.1.0.2", "10.2.0.3", 80, "tcp", "deny"),
    ("pair", "a", "10.1.0.2", "10.2.0.3", 8080, "tcp", "allow"),    # hash:net,port
    ("retnomatch", "a", "10.1.0.3", "10.2.0.3", 443, "tcp", "allow"),
    ("hosts", "b", "10.2.0.3", "10.1.0.2", 22, "tcp", "allow"),
    ("nohost", "b", "10.2.0.2", "10.1.0.2", 22, "tcp", "deny"),
    ("rpf-strict", "a", "10.1.0.2", "10.1.0.1", 443, "tcp", "allow"),
    ("rpf-asym", "a", "192.0.2.5", "10.1.0.1", 443, "tcp", "deny"),  # route back via rc
    ("rpf-validmark", "a", "10.1.0.3", "10.1.0.1", 8080, "tcp", "deny"),  # mark -> table 100
    ("rpf-nomark", "a", "10.1.0.2", "10.1.0.1", 8080, "tcp", "allow"),
    ("rpf-loose", "b", "10.2.0.2", "10.2.0.1", 8443, "tcp", "allow"),
]


def _specs(round_: int, flows=FLOWS, base: int = 30000) -> list[ProbeSpec]:
    return [ProbeSpec(f"f{i}-{name}", role, src, base + round_ * 100 + i, dst, port, proto)
            for i, (name, role, src, dst, port, proto, _) in enumerate(flows)]


def _specs6(round_: int) -> list[ProbeSpec]:
    return _specs(round_, FLOWS6, 31000)


def _asymmetric_link(lab: Lab, ns: dict[str, str]) -> None:
    """A second link A eth1 — R rc; A owns 192.0.2.5, which R routes back through rc."""
    lab.add_veth(ns["a"], "eth1", ns["r"], "rc")
    lab.add_addr(ns["a"], "eth1", "10.3.0.2/24")
    lab.add_addr(ns["r"], "rc", "10.3.0.1/24")
    lab.add_addr(ns["a"], "eth0", "192.0.2.5/32")
    lab.add_route(ns["r"], "192.0.2.0/24", "10.3.0.2")
    lab.add_addr(ns["a"], "eth1", "fd03::2/64")  # the same for IPv6: fd09::5 back via rc
    lab.add_addr(ns["r"], "rc", "fd03::1/64")
    lab.add_addr(ns["a"], "eth0", "fd09::5/128")
    lab.add_route(ns["r"], "fd09::/64", "fd03::2")
    for role in ("a", "r"):
        for key in ("all", "default", "eth0", "eth1", "ra", "rb", "rc"):
            run_in(ns[role], ["sysctl", "-q", "-w", f"net.ipv4.conf.{key}.rp_filter=0"],
                   check=False, runner=lab.runner)
    # --validmark: fwmark 1 looks 10.1.0.0/24 up in table 100, which sends it out of rb
    run_in(ns["r"], ["ip", "rule", "add", "fwmark", "1", "lookup", "100"], runner=lab.runner)
    run_in(ns["r"], ["ip", "route", "add", "10.1.0.0/24", "via", "10.2.0.2", "table", "100"],
           runner=lab.runner)


RULES6 = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 443 -m rpfilter --invert -j DROP
-A PREROUTING -p tcp -m tcp --dport 8443 -m rpfilter --loose --invert -j DROP
COMMIT
"""
FLOWS6 = [
    ("rpf6-strict", "a", "fd01::2", "fd01::1", 443, "tcp", "allow"),
    ("rpf6-asym", "a", "fd09::5", "fd01::1", 443, "tcp", "deny"),   # route back via rc
    ("rpf6-loose", "b", "fd02::3", "fd02::1", 8443, "tcp", "allow"),
]


def _load(lab: Lab, r: str) -> None:
    run_in(r, ["ipset", "restore"], stdin=IPSETS, runner=lab.runner)
    run_in(r, ["iptables-restore"], stdin=RULES, runner=lab.runner)
    run_in(r, ["ip6tables-restore"], stdin=RULES6, runner=lab.runner)


@pytest.mark.timeout(120)
def test_ipset_and_rpfilter_verdicts_are_the_kernels():
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-ipset-") as tmp:
        world = build(lab, Path(tmp) / "static")
        _asymmetric_link(lab, world.ns)
        _load(lab, world.ns["r"])
        servers = Servers({world.ns[role]: (addresses(role, 4) + addresses(role, 6),
                                            listening_ports(role)) for role in ("a", "b", "r")})
        try:
            snap = Path(tmp) / "snap"
            snap.mkdir()
            report = collect(snap, netns=world.ns["r"])
            assert "ipset-save.txt" in report.written, report.missing
            kernel = []
            for round_ in (0, 1):
                run_in(world.ns["r"], ["conntrack", "-F"], check=False, runner=lab.runner)
                kernel.append(probe_all(_specs(round_), world.ns, 4, 0.5)
                              | probe_all(_specs6(round_), world.ns, 6, 0.5))
        finally:
            servers.close()
        host = read_snapshot(snap)
        sim = Simulator(host)
        results = {s.name: sim.run(flow_from_dict(s.flow_json(), "flows"))
                   for s in _specs(0) + _specs6(0)}
        said = {name: r.verdict for name, r in results.items()}
        lab_id = lab.id
    assert kernel[0] == kernel[1], "the kernel answered two probes of one flow differently"
    expected = {s.name: flow[-1] for s, flow in zip(_specs(0) + _specs6(0), FLOWS + FLOWS6)}
    assert kernel[0] == expected  # the scenario does what it claims on this kernel
    assert said == kernel[0]
    for name in ("f14-rpf-asym", "f15-rpf-validmark", "f1-rpf6-asym"):  # dropped by rpfilter
        assert "rpfilter" in (results[name].stopped_at.rule.text if results[name].stopped_at
                              else ""), (name, results[name].reason)
    assert any("timeout" in a and "hosts" in a for a in host.assumptions)
    assert leftovers(lab_id) == []
