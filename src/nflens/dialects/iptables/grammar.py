"""Option grammar of the iptables match extensions: which options take how many arguments and
how their values are typed (iptables-extensions(8)).

Each extension maps option name -> (number of arguments, converter). A converter turns the raw
argument strings into the typed value kept in `Opt.value`; it raises ValueError on bad input,
which the parser reports as FILE:LINE.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from nflens.ir.netmask import MaskedNetwork

ICMP_TYPES = {
    "any": (None, None), "echo-reply": (0, None), "pong": (0, None),
    "destination-unreachable": (3, None), "network-unreachable": (3, 0), "host-unreachable": (3, 1),
    "protocol-unreachable": (3, 2), "port-unreachable": (3, 3), "fragmentation-needed": (3, 4),
    "source-route-failed": (3, 5), "network-unknown": (3, 6), "host-unknown": (3, 7),
    "network-prohibited": (3, 9), "host-prohibited": (3, 10), "TOS-network-unreachable": (3, 11),
    "TOS-host-unreachable": (3, 12), "communication-prohibited": (3, 13),
    "host-precedence-violation": (3, 14), "precedence-cutoff": (3, 15), "source-quench": (4, None),
    "redirect": (5, None), "network-redirect": (5, 0), "host-redirect": (5, 1),
    "TOS-network-redirect": (5, 2), "TOS-host-redirect": (5, 3), "echo-request": (8, None),
    "ping": (8, None), "router-advertisement": (9, None), "router-solicitation": (10, None),
    "time-exceeded": (11, None), "ttl-exceeded": (11, None), "ttl-zero-during-transit": (11, 0),
    "ttl-zero-during-reassembly": (11, 1), "parameter-problem": (12, None),
    "ip-header-bad": (12, 0), "required-option-missing": (12, 1), "timestamp-request": (13, None),
    "timestamp-reply": (14, None), "address-mask-request": (17, None),
    "address-mask-reply": (18, None),
}
ICMP6_TYPES = {
    "destination-unreachable": (1, None), "no-route": (1, 0), "communication-prohibited": (1, 1),
    "beyond-scope": (1, 2), "address-unreachable": (1, 3), "port-unreachable": (1, 4),
    "failed-policy": (1, 5), "reject-route": (1, 6), "packet-too-big": (2, None),
    "time-exceeded": (3, None), "ttl-exceeded": (3, None), "ttl-zero-during-transit": (3, 0),
    "ttl-zero-during-reassembly": (3, 1), "parameter-problem": (4, None),
    "bad-header": (4, 0), "unknown-header-type": (4, 1), "unknown-option": (4, 2),
    "echo-request": (128, None), "ping": (128, None), "echo-reply": (129, None),
    "pong": (129, None), "router-solicitation": (133, None), "router-advertisement": (134, None),
    "neighbour-solicitation": (135, None), "neighbor-solicitation": (135, None),
    "neighbour-advertisement": (136, None), "neighbor-advertisement": (136, None),
    "redirect": (137, None),
}
PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                 "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136, "ipip": 4, "all": 0}
PROTO_NAMES = {v: k for k, v in PROTO_NUMBERS.items() if k not in ("ipv6-icmp", "all")}
TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")


def network(text: str) -> Any:
    """An address, CIDR or address/dotted-mask (iptables accepts all three)."""
    if "/" in text:
        addr, mask = text.split("/", 1)
        if not mask.isdigit():  # a dotted mask, contiguous or not (see ir/netmask.py)
            return MaskedNetwork.parse(addr, mask)
        return ipaddress.ip_network(f"{addr}/{int(mask)}", strict=False)
    return ipaddress.ip_network(text, strict=False)


def port(text: str) -> int:
    value = int(text) if text.isdigit() else _service(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"port {text!r} out of range")
    return value


_SERVICES = {"ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25, "ftp": 21,
             "ftp-data": 20, "telnet": 23, "ntp": 123, "bootps": 67, "bootpc": 68, "pop3": 110,
             "imap": 143, "imaps": 993, "pop3s": 995, "snmp": 161, "ldap": 389, "mysql": 3306,
             "submission": 587, "smtps": 465, "tftp": 69, "sunrpc": 111, "netbios-ns": 137,
             "netbios-dgm": 138, "netbios-ssn": 139, "microsoft-ds": 445, "syslog": 514,
             "openvpn": 1194, "rsync": 873, "ipp": 631, "nfs": 2049, "postgresql": 5432,
             "auth": 113, "ident": 113, "www": 80, "isakmp": 500, "ipsec-nat-t": 4500}


def _service(name: str) -> int:
    if name in _SERVICES:
        return _SERVICES[name]
    raise ValueError(f"unknown service name {name!r}")


def port_range(text: str) -> tuple[int, int]:
    if ":" in text:
        lo, hi = text.split(":", 1)
        return (port(lo) if lo else 0, port(hi) if hi else 65535)
    p = port(text)
    return (p, p)


def tcp_port_range(text: str) -> tuple[int, int]:
    """libxt_tcp refuses `--dport 4:3` (checked on 1.8.9); libxt_udp prints it back, and the
    kernel's range test then never matches (xt_tcpudp.c port_match)."""
    lo, hi = port_range(text)
    if lo > hi:
        raise ValueError(f"port range {text} runs backwards")
    return lo, hi


def port_list(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(port_range(p) for p in text.split(","))


def names(text: str) -> frozenset[str]:
    return frozenset(x.strip().upper() for x in text.split(","))


def number(text: str) -> int:
    return int(text, 0)


def uint(text: str, hi: int, what: str = "value") -> int:
    """A number as xtables_strtoui reads it (decimal, 0x hex, 0 octal) within 0..hi: iptables
    refuses `--mark 4294967296` and `--mark -1`, so nflens never reads them as some number."""
    value = int(text, 0)
    if not 0 <= value <= hi:
        raise ValueError(f"{what} {text} out of range 0-{hi}")
    return value


def value_mask(text: str) -> tuple[int, int]:
    if "/" in text:
        v, m = text.split("/", 1)
        return uint(v, 0xFFFFFFFF), uint(m, 0xFFFFFFFF, "mask")
    return uint(text, 0xFFFFFFFF), 0xFFFFFFFF


def bounded_range(hi_max: int) -> Callable[[str], tuple[int, int]]:
    """`lo:hi`, `lo:`, `:hi`, `:` or one number, within 0..hi_max (xtables' range parsing
    refuses `-1:65535` and `0:65536`)."""

    def parse(text: str) -> tuple[int, int]:
        lo, sep, hi = text.partition(":")
        a = uint(lo, hi_max) if lo else 0
        return a, (uint(hi, hi_max) if hi else hi_max) if sep else a  # 4:3 is kept: 1.8.9 does

    return parse


def u8(text: str) -> int:
    return uint(text, 255)


def one_of(*allowed: str) -> Callable[[str], frozenset[str]]:
    """A comma list of names from a fixed set (`--ctstate NEW,wrong` is refused by iptables)."""
    known = {a.upper() for a in allowed}

    def parse(text: str) -> frozenset[str]:
        got = names(text)
        bad = sorted(got - known)
        if bad:
            raise ValueError(f"unknown name {bad[0]!r} (one of {', '.join(sorted(known))})")
        return got

    return parse


def mac(text: str) -> str:
    """Six octets (iptables refuses five or seven); an anonymised `XX:XX:...` keeps its shape."""
    if not re.fullmatch(r"[0-9A-Za-z]{1,2}(:[0-9A-Za-z]{1,2}){5}", text):
        raise ValueError(f"{text!r} is not a MAC address (six hex octets)")
    return text.lower()


def pkt_type(text: str) -> str:
    text = text.lower()
    if text not in PKT_TYPES:
        raise ValueError(f"unknown packet type {text!r} (one of {', '.join(PKT_TYPES)})")
    return text


# libxt_pkttype.c supported_types; libxt_addrtype.c rtn_names; libxt_conntrack.c / libxt_state.c
PKT_TYPES = ("unicast", "broadcast", "multicast", "host", "otherhost", "outgoing", "loopback",
             "fastroute")
ADDR_TYPES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
              "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE")
STATES = ("INVALID", "ESTABLISHED", "NEW", "RELATED", "UNTRACKED")
CTSTATUS = ("NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")


def num_range(text: str) -> tuple[int, int]:
    if ":" in text:
        lo, hi = text.split(":", 1)
        return int(lo or 0), int(hi or 0xFFFFFFFF)
    return int(text), int(text)


def id_range(text: str) -> tuple[int, int]:
    """owner's `--uid-owner 0-10` (libxt_owner: `userid[-userid]`; iptables-save prints the
    numbers). A user or group name is resolved by iptables on the host, never in a dump."""
    lo, sep, hi = text.partition("-")
    if not lo.isdigit() or sep and not hi.isdigit():
        raise ValueError(f"{text!r} is not a number or a range of numbers (names are resolved "
                         "by iptables on the host, not in a dump)")
    return int(lo), int(hi or lo)


def addr_range(text: str) -> tuple[Any, Any]:
    lo, _, hi = text.partition("-")
    return ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)


def icmp_type(text: str) -> tuple[int | None, int | None]:
    if text in ICMP_TYPES:
        return ICMP_TYPES[text]
    t, _, c = text.partition("/")
    return int(t), int(c) if c else None


def icmp6_type(text: str) -> tuple[int | None, int | None]:
    if text in ICMP6_TYPES:
        return ICMP6_TYPES[text]
    t, _, c = text.partition("/")
    return int(t), int(c) if c else None


def tcp_flags(mask: str, comp: str) -> tuple[frozenset[str], frozenset[str]]:
    def flagset(s: str) -> frozenset[str]:
        s = s.upper()
        if s == "ALL":
            return frozenset(TCP_FLAGS)
        if s == "NONE":
            return frozenset()
        out = frozenset(x for x in s.split(","))
        bad = out - set(TCP_FLAGS)
        if bad:
            raise ValueError(f"unknown TCP flag {sorted(bad)[0]}")
        return out

    return flagset(mask), flagset(comp)


def text_(value: str) -> str:
    return value


def flag(_: str = "") -> bool:
    return True


Conv = Callable[..., Any]
# option -> (argument count, converter)
EXTENSIONS: dict[str, dict[str, tuple[int, Conv]]] = {
    "tcp": {"sport": (1, tcp_port_range), "source-port": (1, tcp_port_range),
            "dport": (1, tcp_port_range), "destination-port": (1, tcp_port_range),
            "tcp-flags": (2, tcp_flags), "syn": (0, flag),
            "tcp-option": (1, number)},
    "udp": {"sport": (1, port_range), "source-port": (1, port_range), "dport": (1, port_range),
            "destination-port": (1, port_range)},
    "sctp": {"sport": (1, port_range), "dport": (1, port_range),
             "chunk-types": (2, lambda a, b: (a, b))},
    "icmp": {"icmp-type": (1, icmp_type)},
    "icmp6": {"icmpv6-type": (1, icmp6_type)},
    "multiport": {"sports": (1, port_list), "source-ports": (1, port_list),
                  "dports": (1, port_list), "destination-ports": (1, port_list),
                  "ports": (1, port_list)},
    "conntrack": {"ctstate": (1, one_of(*STATES, "SNAT", "DNAT")), "ctproto": (1, text_),
                  "ctorigsrc": (1, network),
                  "ctorigdst": (1, network), "ctreplsrc": (1, network), "ctrepldst": (1, network),
                  "ctorigsrcport": (1, port_range), "ctorigdstport": (1, port_range),
                  "ctreplsrcport": (1, port_range), "ctrepldstport": (1, port_range),
                  "ctstatus": (1, one_of(*CTSTATUS)),
                  "ctexpire": (1, bounded_range(0xFFFFFFFF)), "ctdir": (1, str.upper)},
    "state": {"state": (1, one_of(*STATES))},
    "addrtype": {"src-type": (1, one_of(*ADDR_TYPES)), "dst-type": (1, one_of(*ADDR_TYPES)),
                 "limit-iface-in": (0, flag), "limit-iface-out": (0, flag)},
    "iprange": {"src-range": (1, addr_range), "dst-range": (1, addr_range)},
    "mac": {"mac-source": (1, mac)},
    "mark": {"mark": (1, value_mask)},
    "connmark": {"mark": (1, value_mask)},
    "comment": {"comment": (1, text_)},
    "physdev": {"physdev-in": (1, text_), "physdev-out": (1, text_), "physdev-is-in": (0, flag),
                "physdev-is-out": (0, flag), "physdev-is-bridged": (0, flag)},
    "set": {"match-set": (2, lambda n, f: (n, tuple(f.split(",")))), "return-nomatch": (0, flag),
            "update-counters": (0, flag), "update-subcounters": (0, flag),
            "packets-eq": (1, int), "packets-lt": (1, int), "packets-gt": (1, int),
            "bytes-eq": (1, int), "bytes-lt": (1, int), "bytes-gt": (1, int)},
    "limit": {"limit": (1, text_), "limit-burst": (1, int)},
    "hashlimit": {**{k: (1, text_) for k in (
        "hashlimit", "hashlimit-upto", "hashlimit-above", "hashlimit-burst", "hashlimit-mode",
        "hashlimit-name", "hashlimit-htable-size", "hashlimit-htable-max",
        "hashlimit-htable-expire", "hashlimit-htable-gcinterval", "hashlimit-srcmask",
        "hashlimit-dstmask", "hashlimit-rate-interval")},
        "hashlimit-rate-match": (0, flag)},  # XTTYPE_NONE in libxt_hashlimit.c
    "recent": {"name": (1, text_), "set": (0, flag), "rcheck": (0, flag), "update": (0, flag),
               "remove": (0, flag), "seconds": (1, int), "hitcount": (1, int), "rttl": (0, flag),
               "rsource": (0, flag), "rdest": (0, flag), "mask": (1, text_), "reap": (0, flag)},
    "owner": {"uid-owner": (1, id_range), "gid-owner": (1, id_range), "socket-exists": (0, flag),
              "suppl-groups": (0, flag)},
    "pkttype": {"pkt-type": (1, pkt_type)},
    "length": {"length": (1, bounded_range(65535))},
    "tos": {"tos": (1, value_mask)},
    "dscp": {"dscp": (1, number), "dscp-class": (1, text_)},
    "ttl": {"ttl-eq": (1, u8), "ttl-lt": (1, u8), "ttl-gt": (1, u8)},
    "hl": {"hl-eq": (1, u8), "hl-lt": (1, u8), "hl-gt": (1, u8)},
    "string": {"algo": (1, text_), "string": (1, text_), "hex-string": (1, text_),
               "from": (1, int), "to": (1, int), "icase": (0, flag)},
    "socket": {"transparent": (0, flag), "nowildcard": (0, flag), "restore-skmark": (0, flag)},
    "rpfilter": {"loose": (0, flag), "validmark": (0, flag), "accept-local": (0, flag),
                 "invert": (0, flag)},
    "helper": {"helper": (1, text_)},
    "devgroup": {"src-group": (1, value_mask), "dst-group": (1, value_mask)},
    "cgroup": {"path": (1, text_), "cgroup": (1, text_)},
    "statistic": {"mode": (1, text_), "probability": (1, text_), "every": (1, int),
                  "packet": (1, int)},
    "time": {k: (1, text_) for k in ("datestart", "datestop", "timestart", "timestop",
                                      "monthdays", "weekdays")} | {"kerneltz": (0, flag),
                                                                   "utc": (0, flag),
                                                                   "contiguous": (0, flag)},
    "frag": {"fragid": (1, num_range), "fraglen": (1, int), "fragres": (0, flag),
             "fragfirst": (0, flag), "fragmore": (0, flag), "fraglast": (0, flag)},
    "ipv6header": {"header": (1, text_), "soft": (0, flag)},
    # ip6tables' routing header match (libip6t_rt.c); ufw's before6.rules drops type 0 with it
    "rt": {"rt-type": (1, num_range), "rt-segsleft": (1, num_range), "rt-len": (1, int),
           "rt-0-res": (0, flag), "rt-0-addrs": (1, text_), "rt-0-not-strict": (0, flag)},
    "ah": {"ahspi": (1, num_range), "ahlen": (1, int), "ahres": (0, flag)},
    "esp": {"espspi": (1, num_range)},
    "u32": {"u32": (1, text_)},
    "policy": {k: (1, text_) for k in ("dir", "pol", "reqid", "spi", "proto", "mode",
                                        "tunnel-src", "tunnel-dst")} | {"strict": (0, flag),
                                                                        "next": (0, flag)},
    "connlimit": {"connlimit-upto": (1, int), "connlimit-above": (1, int),
                  "connlimit-mask": (1, int), "connlimit-saddr": (0, flag),
                  "connlimit-daddr": (0, flag)},
    "connbytes": {"connbytes": (1, num_range), "connbytes-dir": (1, text_),
                  "connbytes-mode": (1, text_)},
    "ecn": {"ecn-tcp-cwr": (0, flag), "ecn-tcp-ece": (0, flag), "ecn-ip-ect": (1, int)},
    "realm": {"realm": (1, value_mask)},
    "quota": {"quota": (1, int)},
    "tcpmss": {"mss": (1, num_range)},
    "osf": {"genre": (1, text_), "ttl": (1, int), "log": (1, int)},
}
# What the simulator cannot decide from a snapshot: evaluated to Unknown, listed as unsupported.
# The one list of them: the kernel's match registry (kernel/matches) builds its "unmodelled"
# entries from it and refuses a name that a match module also registers (`-m sctp` is modelled
# by kernel/matches/xt_tcpudp.py, so it is not here).
UNMODELLED = {"limit", "hashlimit", "string", "u32", "statistic", "time",
              "cgroup", "policy", "connlimit", "connbytes", "quota", "osf", "socket",
              "ipv6header", "frag", "ah", "esp", "ecn", "realm", "helper", "devgroup",
              "tcpmss", "dscp", "tos"}
