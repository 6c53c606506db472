"""The kernel's routing decisions on a tiny real host, and nflens's verdicts on them (issue 24).

One fuzz world (client A — router R — client B in network namespaces, listeners on every
port) shared by all scenarios; each sets the router's policy routing up with `ip rule` /
`ip route`, loads rules with iptables-restore / nft -f, probes every flow twice with real
clients, snapshots the router with nflens's collector and compares `check`'s verdict with
the kernel's. Addresses: A 10.1.0.2/.3, R 10.1.0.1 (ra) and 10.2.0.1 (rb), B 10.2.0.2/.3.
Table 100 holds `blackhole default` unless a scenario says otherwise.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from nflens.lab import decisions
from nflens.lab.decisions import Listener, Outcome, Scenario

pytestmark = [
    pytest.mark.lab, pytest.mark.timeout(300),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("nft", "iptables-restore", "conntrack",
                                                         "nsenter", "ip")),
                       reason="needs nft, iptables-restore, conntrack, nsenter and ip"),
]

_ports = itertools.count(31000, 10)  # a fresh pair of source ports for every flow
BLACKHOLE_100 = [["ip", "route", "add", "blackhole", "default", "table", "100"]]
FLUSH_100 = [["ip", "route", "flush", "table", "100"]]
RP = "net.ipv4.conf.{}.rp_filter"


def _flow(name: str, role: str, src: str | None, dst: str, dport: int, proto: str = "tcp",
          sport: int | None = None):
    return decisions.flow(name, role, src, dst, dport, proto, sport or next(_ports))


def _rp(value: str) -> dict[str, str]:
    return {RP.format(dev): value for dev in ("all", "default", "ra", "rb")}


def _rules_undo(*prefs: int) -> list[list[str]]:
    return [["ip", "rule", "del", "pref", str(p)] for p in prefs]


@pytest.fixture(scope="module")
def world():
    with decisions.world() as w:
        yield w


# NFLENS_RECORD_ROUTING=tests/fixtures/routing: save every scenario as a replayable fixture
# (tests/kernel/test_routing_decisions.py replays them without root)
RECORD = os.environ.get("NFLENS_RECORD_ROUTING")


def _check(world, sc: Scenario, tmp_path: Path, uncertain: tuple[str, ...] = ()) -> Outcome:
    """Run the scenario; every kernel outcome must be stable, and nflens must say what the
    kernel did, except for the flows named `uncertain`, where it says `uncertain` (the
    kernel's answer hangs on what the snapshot does not show)."""
    snap = tmp_path / sc.name
    out = decisions.run(world, sc, snap)
    for name, (kernel, _nflens) in out.verdicts().items():
        assert not kernel.startswith("flaky"), f"{sc.name}/{name}: {kernel}"
    if RECORD:
        decisions.save_fixture(Path(RECORD) / sc.name, snap, sc, out, uncertain)
    wrong = {n: v for n, v in out.verdicts().items()
             if v[1] != ("uncertain" if n in uncertain else v[0])}
    assert not wrong, f"(kernel, nflens) per flow: {wrong}"
    return out


# --- class 3: the selectors the reader dropped ----------------------------------------

def test_suppress_prefixlength_skips_short_routes_of_main(world, tmp_path):
    """`ip rule add table main suppress_prefixlength 24` (wg-quick uses 0): a /24 of main is
    ignored and the next rule's table (blackhole default, 10.1.0.0/24 via ra) decides."""
    sc = Scenario(
        "suppress",
        setup=[["ip", "route", "add", "10.1.0.0/24", "dev", "ra", "table", "100"],
               *BLACKHOLE_100,
               ["ip", "route", "add", "10.2.0.3/32", "dev", "rb"],
               ["ip", "rule", "add", "pref", "100", "table", "main",
                "suppress_prefixlength", "24"],
               ["ip", "rule", "add", "pref", "110", "table", "100"]],
        undo=_rules_undo(100, 110) + FLUSH_100 + [["ip", "route", "del", "10.2.0.3/32"]],
        sysctls=_rp("0"),
        probes=[_flow("a-b2-tcp", "a", "10.1.0.2", "10.2.0.2", 80),
                _flow("a-b3-tcp", "a", "10.1.0.2", "10.2.0.3", 80),
                _flow("a-b2-udp", "a", "10.1.0.2", "10.2.0.2", 8080, "udp"),
                _flow("b-a-tcp", "b", "10.2.0.3", "10.1.0.2", 443),
                _flow("r-b3-tcp", "r", None, "10.2.0.3", 22),
                _flow("r-b2-tcp", "r", None, "10.2.0.2", 22),
                _flow("a-r-tcp", "a", "10.1.0.2", "10.1.0.1", 22)])
    out = _check(world, sc, tmp_path)
    assert {n for n, (k, _) in out.verdicts().items() if k == "allow"} == {
        "a-b3-tcp", "b-a-tcp", "r-b3-tcp", "a-r-tcp"}


def test_ipproto_port_ranges_and_uidrange_select_only_their_packets(world, tmp_path):
    """`ipproto tcp dport 8000-8100`, `ipproto udp sport 30100-30199` and `uidrange` rules
    catch only their packets. A forwarded packet's uid is root's (0), and so is the
    listener's answer (ss -e shows its owner); the router's own connection carries an owner
    the snapshot does not show: uncertain, naming the uidrange."""
    sc = Scenario(
        "selectors",
        setup=[*BLACKHOLE_100,
               ["ip", "rule", "add", "pref", "100", "ipproto", "tcp", "dport", "8000-8100",
                "table", "100"],
               ["ip", "rule", "add", "pref", "110", "ipproto", "udp", "sport", "30100-30199",
                "blackhole"],
               ["ip", "rule", "add", "pref", "120", "uidrange", "1000-2000", "blackhole"]],
        undo=_rules_undo(100, 110, 120) + FLUSH_100,
        sysctls=_rp("0"),
        probes=[_flow("a-b-tcp8080", "a", "10.1.0.2", "10.2.0.2", 8080),
                _flow("a-b-tcp80", "a", "10.1.0.2", "10.2.0.2", 80),
                _flow("a-b-udp8080", "a", "10.1.0.2", "10.2.0.2", 8080, "udp"),
                _flow("a-b-udp-sport", "a", "10.1.0.3", "10.2.0.2", 80, "udp", sport=30150),
                _flow("r-b-tcp", "r", None, "10.2.0.2", 22),
                _flow("b-r-tcp", "b", "10.2.0.2", "10.2.0.1", 22)])
    out = _check(world, sc, tmp_path, uncertain=("r-b-tcp",))
    assert out.kernel_verdict("a-b-tcp8080") == "deny"
    assert out.kernel_verdict("a-b-udp-sport") == "deny"
    assert out.kernel_verdict("a-b-tcp80") == "allow"
    assert any("uidrange" in r for r in out.nflens["r-b-tcp"].uncertain_because)


# --- class 2: the host's own packets carry their source ---------------------------------

def test_source_rule_kills_the_hosts_replies_from_that_address(world, tmp_path):
    """`ip rule from 10.2.0.1 lookup 100` (blackhole): the SYN-ACK and UDP answer from
    10.2.0.1 and the router's own connections from it find no route; 10.1.0.1 answers."""
    sc = Scenario(
        "from-host",
        setup=[*BLACKHOLE_100,
               ["ip", "rule", "add", "pref", "100", "from", "10.2.0.1", "table", "100"]],
        undo=_rules_undo(100) + FLUSH_100,
        sysctls=_rp("0"),
        probes=[_flow("b-r2-tcp", "b", "10.2.0.2", "10.2.0.1", 22),
                _flow("b-r2-udp", "b", "10.2.0.2", "10.2.0.1", 22, "udp"),
                _flow("a-r2-tcp", "a", "10.1.0.2", "10.2.0.1", 22),
                _flow("a-r1-tcp", "a", "10.1.0.2", "10.1.0.1", 22),
                _flow("r-b-tcp", "r", None, "10.2.0.2", 80),
                _flow("a-b-tcp", "a", "10.1.0.2", "10.2.0.2", 80)])
    out = _check(world, sc, tmp_path)
    assert {n for n, (k, _) in out.verdicts().items() if k == "allow"} == {"a-r1-tcp", "a-b-tcp"}


def test_reverse_path_lookup_of_a_forwarded_packet_has_the_output_device_as_iif(world,
                                                                                tmp_path):
    """fib_validate_source of a forwarded packet looks the source up with the forward
    route's output device as iif (rb here), not loopback: `from 10.2.0.2 to 10.1.0.2 iif
    lo` (blackhole) does not catch it, and with rp_filter=1 the flows pass."""
    sc = Scenario(
        "reverse-iif",
        setup=[*BLACKHOLE_100,
               ["ip", "rule", "add", "pref", "100", "from", "10.2.0.2", "to", "10.1.0.2",
                "iif", "lo", "table", "100"]],
        undo=_rules_undo(100) + FLUSH_100,
        sysctls=_rp("1"),
        probes=[_flow("a2-b2", "a", "10.1.0.2", "10.2.0.2", 80),
                _flow("a3-b2", "a", "10.1.0.3", "10.2.0.2", 80)])
    out = _check(world, sc, tmp_path)
    assert out.kernel_verdict("a2-b2") == "allow"


# --- class 1: a mark set on a local packet re-routes it ----------------------------------

def _mangle(*rules: str, filter_output: tuple[str, ...] = ()) -> str:
    """An iptables-restore text: `rules` in mangle, `filter_output` in filter OUTPUT."""
    chains = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
    text = "*mangle\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in chains)
    text += "".join(f"{r}\n" for r in rules) + "COMMIT\n"
    if filter_output:
        text += ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                 + "".join(f"-A OUTPUT {r}\n" for r in filter_output) + "COMMIT\n")
    return text


MANGLE_MARK = _mangle("-A OUTPUT -p tcp --dport 8080 -j MARK --set-mark 1",
                      filter_output=("-p tcp --dport 22 -j MARK --set-mark 1",))
ROUTE_CHAIN_MARK = """table ip reroute {
  chain out { type route hook output priority mangle; tcp dport 443 meta mark set 1; }
}
"""


def test_mark_set_in_a_route_chain_reroutes_local_packets(world, tmp_path):
    """mangle OUTPUT MARK and an nft `type route` chain setting meta mark send the router's
    packet through `ip rule fwmark 1` to table 100 (ip_route_me_harder); the same MARK in
    the filter table does not re-route."""
    sc = Scenario(
        "mark-reroute",
        setup=[*BLACKHOLE_100,
               ["ip", "rule", "add", "pref", "100", "fwmark", "1", "table", "100"]],
        undo=_rules_undo(100) + FLUSH_100,
        sysctls=_rp("0"), iptables=MANGLE_MARK, nft=ROUTE_CHAIN_MARK,
        probes=[_flow("r-b-8080", "r", None, "10.2.0.2", 8080),
                _flow("r-b-443", "r", None, "10.2.0.2", 443),
                _flow("r-b-22", "r", None, "10.2.0.2", 22),
                _flow("r-b-80", "r", None, "10.2.0.2", 80),
                _flow("a-r-8080", "a", "10.1.0.2", "10.1.0.1", 8080)])
    out = _check(world, sc, tmp_path)
    assert out.kernel_verdict("r-b-8080") == out.kernel_verdict("r-b-443") == "deny"
    assert out.kernel_verdict("r-b-22") == "allow"


# --- class 4: rp_filter with src_valid_mark ---------------------------------------------

MARK_FROM_A = _mangle("-A PREROUTING -i ra -j MARK --set-mark 1")


@pytest.mark.parametrize("valid_mark", ["1", "0"])
def test_src_valid_mark_puts_the_mark_into_the_reverse_lookup(world, tmp_path, valid_mark):
    """rp_filter=1; a's packets are marked 1 in PREROUTING; `from 10.2.0.2 fwmark 1 lookup
    100` where table 100 routes 10.1.0.0/24 out of rb. The reverse lookup carries the
    packet's destination as its source; with src_valid_mark=1 it takes the mark too, finds
    rb, not ra: a martian. With 0 it ignores the mark. The replies (mark 0) are unaffected."""
    sc = Scenario(
        f"valid-mark{valid_mark}",
        setup=[["ip", "route", "add", "10.1.0.0/24", "dev", "rb", "table", "100"],
               ["ip", "rule", "add", "pref", "100", "from", "10.2.0.2", "fwmark", "1",
                "table", "100"]],
        undo=_rules_undo(100) + FLUSH_100,
        sysctls={**_rp("1"), "net.ipv4.conf.all.src_valid_mark": valid_mark},
        iptables=MARK_FROM_A,
        probes=[_flow("a-b2", "a", "10.1.0.2", "10.2.0.2", 80),
                _flow("a-b3", "a", "10.1.0.2", "10.2.0.3", 80),
                _flow("b-a", "b", "10.2.0.2", "10.1.0.2", 80)])
    out = _check(world, sc, tmp_path)
    assert out.kernel_verdict("a-b2") == ("deny" if valid_mark == "1" else "allow")
    assert out.kernel_verdict("a-b3") == "allow"


# --- class 5: nft fib's reverse lookup ---------------------------------------------------

FIB_RPF = """table ip f {
  chain pre { type filter hook prerouting priority -150; fib saddr . iif oif missing drop; }
}
"""


def test_nft_fib_reverse_lookup_is_not_selected_by_ip_rule_iif(world, tmp_path):
    """`fib saddr . iif oif missing drop` with `ip rule iif ra to 10.1.0.0/24 lookup 100`
    (blackhole): nft_fib4_eval looks up with the loopback device as iif, so the rule does
    not apply and a's packets pass."""
    sc = Scenario(
        "nft-fib",
        setup=[*BLACKHOLE_100,
               ["ip", "rule", "add", "pref", "100", "iif", "ra", "to", "10.1.0.0/24",
                "table", "100"]],
        undo=_rules_undo(100) + FLUSH_100,
        sysctls=_rp("0"), nft=FIB_RPF,
        probes=[_flow("a-b", "a", "10.1.0.2", "10.2.0.2", 80),
                _flow("b-a", "b", "10.2.0.2", "10.1.0.2", 80),
                _flow("a-r", "a", "10.1.0.2", "10.1.0.1", 22)])
    out = _check(world, sc, tmp_path)
    assert out.kernel_verdict("a-b") == "allow"


# --- class 14: a listener bound to a device ------------------------------------------------

def test_listener_bound_to_a_device_accepts_only_what_came_in_on_it(world, tmp_path):
    """`0.0.0.0%ra:7000` (SO_BINDTODEVICE): a's connections to either router address come
    in on ra and are answered, b's (in on rb) are refused; the router's own connection to
    10.1.0.1 is seen as coming in on ra (the local route's device), to 10.2.0.1 on rb."""
    sc = Scenario(
        "bound-device", setup=[], undo=[], sysctls=_rp("0"),
        listeners=[Listener("0.0.0.0", 7000, dev="ra")],
        probes=[_flow("a-r1", "a", "10.1.0.2", "10.1.0.1", 7000),
                _flow("a-r2", "a", "10.1.0.2", "10.2.0.1", 7000),
                _flow("b-r2", "b", "10.2.0.2", "10.2.0.1", 7000),
                _flow("r-r1", "r", None, "10.1.0.1", 7000),
                _flow("r-r2", "r", None, "10.2.0.1", 7000)])
    out = _check(world, sc, tmp_path)
    assert {n for n, (k, _) in out.verdicts().items() if k == "allow"} == {"a-r1", "a-r2",
                                                                            "r-r1"}


# --- class 13: socket owners -----------------------------------------------------------------

OWNER_DROP = _mangle(filter_output=("-m owner --uid-owner 1600 -j DROP",))


def test_socket_owners_from_ss_decide_uidrange_and_owner_matches(world, tmp_path):
    """Listeners owned by uid 1500 and 1600 (ss -e shows `uid:`): `ip rule uidrange
    1500-1500 blackhole` kills the answers of the first, `-m owner --uid-owner 1600 -j DROP`
    in OUTPUT those of the second (the SYN-ACK belongs to the listener); root's listener on
    22 answers (ss prints no uid for root: 0 with -e). The router's own connection's owner
    is unknown: uncertain, named."""
    sc = Scenario(
        "owners",
        setup=[["ip", "rule", "add", "pref", "100", "uidrange", "1500-1500", "blackhole"]],
        undo=_rules_undo(100), sysctls=_rp("0"), iptables=OWNER_DROP,
        listeners=[Listener("0.0.0.0", 7100, uid=1500), Listener("0.0.0.0", 7200, uid=1600)],
        probes=[_flow("a-r-7100", "a", "10.1.0.2", "10.1.0.1", 7100),
                _flow("a-r-7200", "a", "10.1.0.2", "10.1.0.1", 7200),
                _flow("a-r-22", "a", "10.1.0.2", "10.1.0.1", 22),
                _flow("r-b-80", "r", None, "10.2.0.2", 80)])
    out = _check(world, sc, tmp_path, uncertain=("r-b-80",))
    assert {n for n, (k, _) in out.verdicts().items() if k == "allow"} == {"a-r-22", "r-b-80"}
    assert any("owner" in r or "uidrange" in r for r in out.nflens["r-b-80"].uncertain_because)


# --- class 4: multipath --------------------------------------------------------------------

def test_multipath_next_hop_is_the_kernels_hash_choice_so_uncertain(world, tmp_path):
    """`10.2.0.3/32 nexthop via 10.2.0.2 dev rb nexthop via 10.1.0.2 dev ra`, and rules that
    drop what leaves by ra for 10.2.0.3: through b the packet arrives (b holds 10.2.0.3),
    through ra it is dropped. Which hop a flow takes is a seeded hash: the kernel answers one
    way, steadily; nflens says uncertain and names the route."""
    sc = Scenario(
        "multipath",
        setup=[["ip", "route", "add", "10.2.0.3/32", "nexthop", "via", "10.2.0.2", "dev", "rb",
                "nexthop", "via", "10.1.0.2", "dev", "ra"]],
        undo=[["ip", "route", "del", "10.2.0.3/32"]], sysctls=_rp("0"),
        iptables=("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                  "-A FORWARD -d 10.2.0.3/32 -o ra -j DROP\n"
                  "-A OUTPUT -d 10.2.0.3/32 -o ra -j DROP\nCOMMIT\n"),
        probes=[_flow("a-b3", "a", "10.1.0.2", "10.2.0.3", 80),
                _flow("a3-b3", "a", "10.1.0.3", "10.2.0.3", 443),
                _flow("r-b3", "r", None, "10.2.0.3", 22),
                _flow("a-b2", "a", "10.1.0.2", "10.2.0.2", 80)])
    out = _check(world, sc, tmp_path, uncertain=("a-b3", "a3-b3", "r-b3"))
    assert out.kernel_verdict("a-b2") == "allow"
    assert any("multipath" in r for r in out.nflens["a-b3"].uncertain_because)


# --- class 9: MASQUERADE picks its address for the next hop -------------------------------

def test_masquerade_takes_the_address_of_the_gateways_subnet(world, tmp_path):
    """rb holds 10.2.0.1/24 and 10.7.0.1/24; B (10.2.0.2) is reached via 10.7.0.2 (B's own
    second address). MASQUERADE -o rb picks 10.7.0.1, the address for the next hop
    (nf_nat_masquerade_ipv4: inet_select_addr(out, rt_nexthop(rt, daddr))), not 10.2.0.1,
    the one for the destination: a raw PREROUTING drop of replies to 10.7.0.1 kills that flow.
    10.2.0.3 is on-link (masqueraded to 10.2.0.1) and passes."""
    from nflens.lab.netns import run_in

    b, runner = world.ns["b"], world.lab.runner
    run_in(b, ["ip", "addr", "add", "10.7.0.2/24", "dev", "eth0"], runner=runner)
    try:
        sc = Scenario(
            "masquerade-nexthop",
            setup=[["ip", "addr", "add", "10.7.0.1/24", "dev", "rb"],
                   ["ip", "route", "replace", "10.2.0.2/32", "via", "10.7.0.2", "dev", "rb"]],
            undo=[["ip", "route", "del", "10.2.0.2/32"],
                  ["ip", "addr", "del", "10.7.0.1/24", "dev", "rb"]],
            sysctls=_rp("0"),
            iptables="*raw\n-A PREROUTING -i rb -d 10.7.0.1/32 -p tcp --sport 80 -j DROP\n"
                     "COMMIT\n*nat\n-A POSTROUTING -o rb -j MASQUERADE\nCOMMIT\n",
            probes=[_flow("a-b2-via-gw", "a", "10.1.0.2", "10.2.0.2", 80),
                    _flow("a-b3-on-link", "a", "10.1.0.2", "10.2.0.3", 80)])
        out = _check(world, sc, tmp_path)
    finally:
        run_in(b, ["ip", "addr", "del", "10.7.0.2/24", "dev", "eth0"], check=False,
               runner=runner)
    assert out.kernel_verdict("a-b2-via-gw") == "deny"
    assert out.kernel_verdict("a-b3-on-link") == "allow"


# --- class 4: a source that is one of the router's broadcast addresses -----------------

@pytest.fixture
def fresh_world():
    """A world of its own: the kernel's fib_has_custom_rules / fib_has_custom_local_routes
    flags, once set by any `ip rule` or `local` route (the scenarios above add and delete
    them), stay set for the namespace's life and change fib_validate_source's answer."""
    with decisions.world() as w:
        yield w


@pytest.mark.parametrize("rp", ["0", "1", "0-after-a-rule"])
def test_a_broadcast_address_source(fresh_world, tmp_path, rp):
    """rb also holds 10.9.0.1/24, so 10.9.0.255 is a broadcast address in the router's local
    table; B holds 10.9.0.255/16, where it is an ordinary host address, and sends from it.
    ip_route_input_slow (net/ipv4/route.c) refuses only zero-net, multicast and
    limited-broadcast sources itself; fib_validate_source (fib_frontend.c) without rp_filter,
    custom rules or custom local routes takes its shortcut and refuses only a local address,
    so the packets get in (their conntrack entries are confirmed, in INPUT or POSTROUTING);
    with rp_filter=1 the reverse lookup finds the broadcast route (res.type != RTN_UNICAST:
    e_inval) and they are martians (no entry confirmed). So are they with rp_filter=0 once
    the namespace has had a custom rule, even one deleted again (`0-after-a-rule`): the
    kernel's flag stays set, the snapshot cannot show it, and nflens explores both (the
    verdicts agree either way;
    the model side: tests/kernel/test_martian_history.py). Either way no connection: the
    router's TCP SYN/ACK to 10.9.0.255 leaves as a link broadcast, which B's tcp_v4_rcv
    discards (pkt_type is not PACKET_HOST); a UDP socket without SO_BROADCAST may not send
    to it (EACCES); A's reply to a forwarded flow is taken in by the router as a broadcast
    (brd_input), not forwarded. nflens agrees on every verdict and on why (the reply's route
    with rp_filter=0, the martian source with 1)."""
    from nflens.lab.netns import run_in

    world = fresh_world
    b, runner = world.ns["b"], world.lab.runner
    entries = tmp_path / "conntrack.txt"
    if rp == "0-after-a-rule":
        for verb in ("add", "del"):
            run_in(world.ns["r"], ["ip", "rule", verb, "pref", "500", "from", "192.0.2.1",
                                   "lookup", "main"], runner=runner)
    run_in(b, ["ip", "addr", "add", "10.9.0.255/16", "dev", "eth0"], runner=runner)
    try:
        sc = Scenario(
            f"broadcast-source-rp{rp}",
            setup=[["ip", "addr", "add", "10.9.0.1/24", "dev", "rb"],
                   ["conntrack", "-F"]],
            undo=[["sh", "-c", f"conntrack -L > {entries} 2>&1"],
                  ["ip", "addr", "del", "10.9.0.1/24", "dev", "rb"]],
            sysctls=_rp(rp[0]),
            # a conntrack match makes the namespace track connections (nf_ct_netns_get)
            iptables="*filter\n-A INPUT -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n",
            probes=[_flow("tcp-to-r", "b", "10.9.0.255", "10.2.0.1", 80),
                    _flow("udp-to-r", "b", "10.9.0.255", "10.2.0.1", 80, "udp"),
                    _flow("tcp-to-a", "b", "10.9.0.255", "10.1.0.2", 80),
                    _flow("udp-to-a", "b", "10.9.0.255", "10.1.0.2", 80, "udp")])
        out = _check(world, sc, tmp_path)
    finally:
        run_in(b, ["ip", "addr", "del", "10.9.0.255/16", "dev", "eth0"], check=False,
               runner=runner)
    assert set(v for v, _ in out.verdicts().values()) == {"deny"}
    confirmed = entries.read_text().count("src=10.9.0.255")
    reasons = [res.reason for res in out.nflens.values()]
    if rp == "0":
        assert confirmed == 4  # the second round of each flow (the first was flushed)
        assert all("martian" not in why for why in reasons), reasons
    elif rp == "1":
        assert confirmed == 0
        assert all("martian source 10.9.0.255: a broadcast address" in why
                   for why in reasons), reasons
    else:
        assert confirmed == 0  # the deleted rule's flag: martians although rp_filter=0
