"""Constructs iptables accepts that nflens refused a whole file for (issue 15 item 8): field
rewriting targets, targets the model lacks, non-contiguous netmasks, owner ranges, hashlimit's
rate-match; each read, and simulated the way the kernel runs it."""

from __future__ import annotations

import ipaddress as ip
import subprocess

import pytest

from nflens.dialects import ebtables, iptables
from nflens.ir.netmask import MaskedNetwork
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from tests.conftest import scratch_netns
from tests.kernel.hosts import docker_host


def _filter(*rules: str, table: str = "filter", chain: str = "INPUT") -> str:
    body = "".join(f"-A {chain} {r}\n" for r in rules)
    return f"*{table}\n:{chain} ACCEPT [0:0]\n{body}COMMIT\n"


def _flow(src: str, port: int = 8000) -> Flow:
    return Flow("t", Endpoint(iface="eth0", src=ip.ip_address(src)), ip.ip_address("10.99.0.1"),
                port)


def _run(text: str, src: str = "10.99.0.2"):
    from nflens.ir.host import Socket
    rs = iptables.parse(text, "r.save", family="ip")
    host = docker_host(rs.tables, (Socket("tcp", ip.ip_address("0.0.0.0"), 8000, "busybox"),))
    return Simulator(host).run(_flow(src))


@pytest.mark.parametrize("target", ["TOS --set-tos 0x10/0x3f", "DSCP --set-dscp 0x2e",
                                    "TTL --ttl-set 3", "CLASSIFY --set-class 1:2",
                                    "AUDIT --type drop", "IDLETIMER --timeout 10 --label x",
                                    "CONNSECMARK --save", "ECN --ecn-tcp-remove"])
def test_a_field_rewriting_target_continues_to_the_next_rule(target):
    text = _filter(f"-p tcp -j {target}", "-p tcp --dport 8000 -j DROP")
    rs = iptables.parse(text, "r.save", family="ip")
    assert not rs.unsupported
    assert any(line == 3 and "modelled as continue" in msg for _f, line, msg in rs.warnings)
    assert _run(text).verdict == "deny"
    assert _run(_filter(f"-p tcp -j {target}")).verdict == "allow"


def test_a_rewriting_target_is_generated_back_as_it_was_read():
    rs = iptables.parse(_filter("-j TOS --set-tos 0x10/0x3f", table="mangle", chain="PREROUTING"),
                        "r.save", family="ip")
    assert "-A PREROUTING -j TOS --set-tos 0x10/0x3f" in iptables.generate(rs, "ip")


@pytest.mark.parametrize("target", ["TEE --gateway 1.1.1.1", "SYNPROXY --sack-perm --timestamp "
                                    "--wscale 7 --mss 1460", "NETMAP --to 1.2.3.0/24",
                                    "HMARK --hmark-src-prefix 32 --hmark-rnd 0x1 --hmark-mod 4"])
def test_a_target_with_unmodelled_consequences_is_named_and_makes_the_flow_uncertain(target):
    name = target.split()[0]
    text = _filter(f"-p tcp -j {target}")
    rs = iptables.parse(text, "r.save", family="ip")
    assert [(u.line, u.what.split(" (")[0]) for u in rs.unsupported] == [(3, f"target {name}")]
    result = _run(text)
    assert result.verdict == "uncertain"
    assert any(name in why for why in result.uncertain_because)


def test_an_unknown_target_with_options_is_kept_opaque_not_refused():
    rs = iptables.parse(_filter("-j FOOBAR --frob 1 2 --flag"), "r.save", family="ip")
    (rule,) = rs.tables[0].chains[0].rules
    assert rule.exprs[-1].get("name") == "FOOBAR"
    assert "--frob 1 2 --flag" in rule.exprs[-1].get("args")
    assert [u.line for u in rs.unsupported] == [3]


def test_a_non_contiguous_netmask_matches_exactly_what_the_kernel_compares():
    # the LAN is 10.99.0.0/24; the mask keeps the first and the last octet
    text = _filter("-s 10.11.12.13/255.0.0.255 -p tcp -j DROP")
    (rule,) = iptables.parse(text, "r.save", family="ip").tables[0].chains[0].rules
    assert str(rule.exprs[0].opts[0].value) == "10.0.0.13/255.0.0.255"
    assert _run(text, "10.99.0.13").verdict == "deny"  # (addr & mask) == 10.0.0.13
    assert _run(text, "10.99.0.14").verdict == "allow"
    masked = _filter("! -s 10.11.12.13/255.0.0.255 -p tcp -j DROP")
    assert _run(masked, "10.99.0.13").verdict == "allow"
    assert _run(masked, "10.99.0.14").verdict == "deny"


def test_a_non_contiguous_netmask_is_exact_on_the_symbolic_side_too():
    from nflens.ir.packet import Packet
    from nflens.kernel.context import PacketContext
    from nflens.kernel.matches import xt_ip

    rs = iptables.parse(_filter("-s 10.0.12.0/255.0.255.0 -j DROP"), "r.save", family="ip")
    match = rs.tables[0].chains[0].rules[0].exprs[0]
    pkt = Packet(ip.ip_address("0.0.0.0"), ip.ip_address("10.99.0.1"), "tcp", 1, 2)
    region = xt_ip.constrain(match, PacketContext(pkt=pkt, family="ip", hook="input", env=None))
    assert not region.unknown and len(region.src) == 256
    value = match.opts[0].value
    for lo, hi in region.src[:3] + region.src[-3:]:
        assert ip.ip_address(lo) in value and ip.ip_address(hi) in value
        assert ip.ip_address(hi + 1) not in value


def test_a_contiguous_dotted_mask_stays_a_plain_network():
    assert MaskedNetwork.parse("10.1.2.3", "255.255.0.0") == ip.ip_network("10.1.0.0/16")


def test_ebtables_arp_ip_with_a_non_contiguous_mask_is_read():
    text = ("*filter\n:INPUT ACCEPT\n"
            "-A INPUT -p ARP ! --arp-ip-src 1.0.3.4/255.0.255.255 -j CONTINUE\nCOMMIT\n")
    (rule,) = ebtables.parse(text, "eb.save").tables[0].chains[0].rules
    values = [o.value for e in rule.exprs for o in getattr(e, "opts", ()) if o.name == "ip_src"]
    assert values == [MaskedNetwork(ip.ip_address("1.0.3.4"), ip.ip_address("255.0.255.255"))]
    assert ip.ip_address("1.77.3.4") in values[0] and ip.ip_address("1.77.3.5") not in values[0]
    assert "--arp-ip-src 1.0.3.4/255.0.255.255" in ebtables.generate(
        ebtables.parse(text, "eb.save"))


def test_owner_uid_ranges_and_hashlimit_rate_match_are_read():
    rs = iptables.parse(_filter(
        "-m owner --uid-owner 0-10 --gid-owner 5", chain="OUTPUT") .replace(":OUTPUT", ":OUTPUT"),
        "r.save", family="ip")
    (rule,) = rs.tables[0].chains[0].rules
    assert [(o.name, o.value) for o in rule.exprs[0].opts] == [("uid-owner", (0, 10)),
                                                               ("gid-owner", (5, 5))]
    rs = iptables.parse(_filter("-m hashlimit --hashlimit-upto 40/sec --hashlimit-name r "
                                "--hashlimit-rate-match --hashlimit-rate-interval 10 -j ACCEPT"),
                        "r.save", family="ip")
    (rule,) = rs.tables[0].chains[0].rules
    assert ("hashlimit-rate-match", True) in [(o.name, o.value) for o in rule.exprs[0].opts]
    assert rule.exprs[-1].name == "accept"


@pytest.mark.lab
def test_the_targets_modelled_as_continue_do_continue_on_the_kernel():
    """A UDP datagram to a local socket through mangle OUTPUT with each target: it arrives."""
    targets = ["TOS --set-tos 0x10", "DSCP --set-dscp 0x2e", "TTL --ttl-set 9",
               "CLASSIFY --set-class 1:2", "AUDIT --type drop", "ECN --ecn-tcp-remove",
               "IDLETIMER --timeout 10 --label nfl", "CONNSECMARK --save",
               "TCPOPTSTRIP --strip-options mss", "RATEEST --rateest-name nfl "
               "--rateest-interval 250ms --rateest-ewmalog 1s"]
    probe = ("import socket\nr=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
             "r.bind(('127.0.0.1',9999)); r.settimeout(2)\n"
             "socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b'x',('127.0.0.1',9999))\n"
             "print(r.recvfrom(10)[0].decode())")
    with scratch_netns("nfl-cont", "iptables", "python3") as ns:
        run = ["ip", "netns", "exec", ns]
        subprocess.run([*run, "ip", "link", "set", "lo", "up"], check=True)
        for target in targets:
            proto = "-p tcp" if target.split()[0] in ("ECN", "TCPOPTSTRIP") else "-p udp"
            subprocess.run([*run, "iptables", "-t", "mangle", "-F", "OUTPUT"], check=True)
            loaded = subprocess.run([*run, "iptables", "-t", "mangle", "-A", "OUTPUT",
                                     *proto.split(), "-j", *target.split()], capture_output=True,
                                    text=True)
            if loaded.returncode != 0:
                pytest.fail(f"{target}: {loaded.stderr}")
            if proto == "-p tcp":
                continue  # loaded and read; the UDP probe does not pass a tcp rule
            got = subprocess.run([*run, "python3", "-c", probe], capture_output=True, text=True,
                                 timeout=30)
            assert got.stdout.strip() == "x", f"{target} stopped the packet: {got.stderr}"


@pytest.mark.parametrize("rule, why", [
    ("-m mark --mark 4294967296", "out of range"), ("-m mark --mark -1", "out of range"),
    ("-m mark", "needs --mark"), ("-m ttl --ttl-eq 256", "out of range"),
    ("-m conntrack --ctstate wrong", "unknown name"), ("-m mac --mac-source 42:01:02:03:04", "MAC"),
    ("-p tcp -m tcp --dport 4:3", "backwards"), ("-m tcp --dport 1", "needs -p tcp"),
    ("-j REDIRECT --to-ports 42", "needs -p tcp"), ("! -p 0 -j ACCEPT", "cannot be negated"),
    ("-m owner --suppl-groups --gid-owner 0-10", "suppl-groups"),
    ("-j LOG --log-level bad", "not a log level")])
def test_a_rule_iptables_refuses_is_refused_at_its_line(rule, why):
    from nflens.errors import ParseError

    with pytest.raises(ParseError, match=why) as err:
        iptables.parse(_filter(rule), "r.save", family="ip")
    assert err.value.line == 3


@pytest.mark.parametrize("rule, why", [
    ("-j DNAT", "needs --to-destination"), ("-j NFQUEUE --queue-num 65536", "out of range"),
    ("-j NFQUEUE --queue-balance 4:4", "low end"), ("-j CT --zone 65536", "out of range"),
    ("-j DNAT --to-destination 1.1.1.1 --to-destination 2.2.2.2", "given twice"),
    ("-j CHECKSUM", "needs --checksum-fill"),
    ("-p udp -j REDIRECT --to-ports ftp-ssh", "bad port range"),
    ("-p udp -j MASQUERADE --to-ports -1", "bad port range")])
def test_a_target_iptables_refuses_is_kept_opaque_and_named(rule, why):
    rs = iptables.parse(_filter(rule), "r.save", family="ip")
    assert [u.line for u in rs.unsupported] == [3] and why in rs.unsupported[0].what
    assert rs.tables[0].chains[0].rules[0].exprs[-1].name == "xt"


def test_a_backwards_udp_range_is_kept_as_1_8_9_keeps_it():
    (rule,) = iptables.parse(_filter("-p udp -m udp --sport 4:3"), "r.save",
                             family="ip").tables[0].chains[0].rules
    assert rule.exprs[1].opts[0].value == (4, 3)


@pytest.mark.parametrize("chain, rule", [("INPUT", "-o eth0"), ("OUTPUT", "-i eth0"),
                                         ("OUTPUT", "--logical-in br0"), ("INPUT", "-p 0"),
                                         ("INPUT", "--stp-port 2:1"),
                                         ("INPUT", "-p IPv6 --ip6-proto tcp "
                                                   "--ip6-icmp-type echo-request")])
def test_an_ebtables_rule_ebtables_refuses_is_refused(chain, rule):
    from nflens.errors import ParseError

    with pytest.raises(ParseError) as err:
        ebtables.parse(f"*filter\n:{chain} ACCEPT\n-A {chain} {rule}\nCOMMIT\n", "eb.save")
    assert err.value.line == 3


def test_a_match_option_after_an_unknown_target_stays_the_matches_in_restore_input():
    rs = iptables.parse(_filter("-p tcp -m multiport -j FOOBAR --dports 22,80"), "r.save",
                        family="ip")
    (rule,) = rs.tables[0].chains[0].rules
    assert [(m.name, [o.name for o in m.opts]) for m in rule.exprs[:-1]] == [
        ("ip", ["proto"]), ("multiport", ["dports"])]
    assert rule.exprs[-1].get("name") == "FOOBAR"


@pytest.mark.lab
def test_a_non_contiguous_netmask_drops_what_the_kernel_drops():
    """`-d 127.0.0.5/255.0.0.255`: datagrams to 127.x.y.5 are dropped by the kernel, others
    arrive; nflens' evaluation says the same for each address."""

    rule = "-A OUTPUT -p udp -d 127.9.9.5/255.0.0.255 -j DROP"
    value = iptables.parse(_filter(rule[len("-A OUTPUT "):], chain="OUTPUT"), "r.save",
                           family="ip").tables[0].chains[0].rules[0].exprs[0].opts[1].value
    probe = ("import socket,sys\nfor a in sys.argv[1:]:\n"
             " r=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); r.bind((a,9999));"
             " r.settimeout(0.5)\n"
             " try:\n"  # a DROP in OUTPUT fails the send with EPERM
             "  socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b'x',(a,9999))\n"
             "  r.recv(4); print(a,'arrived')\n"
             " except OSError: print(a,'dropped')\n")
    addrs = ["127.1.2.5", "127.200.0.5", "127.1.2.6", "127.0.0.1", "127.5.5.133"]
    with scratch_netns("nfl-mask", "iptables", "python3") as ns:
        run = ["ip", "netns", "exec", ns]
        subprocess.run([*run, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run([*run, "iptables", *rule.split()], check=True)
        got = subprocess.run([*run, "python3", "-c", probe, *addrs], capture_output=True,
                             text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    got = got.stdout.split("\n")
    kernel = dict(line.split() for line in got if line)
    assert set(kernel.values()) == {"arrived", "dropped"}
    for a in addrs:
        assert (kernel[a] == "dropped") == (ip.ip_address(a) in value), a
