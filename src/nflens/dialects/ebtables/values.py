"""Typed values of ebtables options: ethertypes, MACs with masks, networks, port and ICMP ranges.

Every parser turns the text ebtables-save prints (or a user types) into a typed, normalised value,
so the same rule written two ways (`-p 0x0800` / `-p IPv4`, `2:0:0:0:0:1` / `02:00:00:00:00:01`,
`--ip6-src dead::beef/64` / `dead::/64`) gives the same IR. Every formatter prints what
ebtables-restore accepts back. A bad value raises ValueError; the parser adds file and line.

Name tables follow /etc/ethertypes (shipped with ebtables), /etc/protocols and the ebtables
extensions' own tables (extensions/libebt_arp.c, libebt_ip.c, libebt_ip6.c, libebt_pkttype.c).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from nflens.ir.netmask import MaskedNetwork

# /etc/ethertypes: the canonical (printed) name first; aliases map to the same number.
ETHERTYPES: dict[str, int] = {
    "IPv4": 0x0800, "X25": 0x0805, "ARP": 0x0806, "FR_ARP": 0x0808, "BPQ": 0x08FF,
    "TRILL": 0x22F3, "L2-IS-IS": 0x22F4, "TEB": 0x6558, "RAW_FR": 0x6559, "RARP": 0x8035,
    "ATALK": 0x809B, "AARP": 0x80F3, "802_1Q": 0x8100, "IPX": 0x8137, "NetBEUI": 0x8191,
    "IPv6": 0x86DD, "PPP": 0x880B, "MPLS": 0x8847, "MPLS_MULTI": 0x8848, "ATMMPOA": 0x884C,
    "PPP_DISC": 0x8863, "PPP_SES": 0x8864, "ATMFATE": 0x8884, "EAPOL": 0x888E, "S-TAG": 0x88A8,
    "EAP_PREAUTH": 0x88C7, "LLDP": 0x88CC, "MACSEC": 0x88E5, "PBB": 0x88E7, "MVRP": 0x88F5,
    "PTP": 0x88F7, "FCOE": 0x8906, "FIP": 0x8914, "ROCE": 0x8915, "LoWPAN": 0xA0ED,
}
_ETHER_ALIASES = {"ip": 0x0800, "ip4": 0x0800, "ether-arp": 0x0806, "8021q": 0x8100,
                  "1q": 0x8100, "802.1q": 0x8100, "dot1q": 0x8100, "ip6": 0x86DD,
                  "macinmac": 0x88E7}
_ETHER_BY_LOWER = {k.lower(): v for k, v in ETHERTYPES.items()} | _ETHER_ALIASES
_ETHER_NAME = {v: k for k, v in ETHERTYPES.items()}
LENGTH = "length"  # `-p LENGTH`: 802.3 frames, whose type field is a length (< 0x0600)

IP_PROTOCOLS = {"ip": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17,
                "ipv6": 41, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "ospf": 89,
                "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136, "dccp": 33}
_IP_PROTO_ALIASES = {"icmpv6": 58, "ipv6-icmp": 58}
_IP_PROTO_NAME = {v: k for k, v in IP_PROTOCOLS.items()}

# libebt_arp.c opcodes, 1-based.
ARP_OPCODES = ("Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request",
               "DRARP_Reply", "DRARP_Error", "InARP_Request", "ARP_NAK")
# libebt_pkttype.c: index = skb->pkt_type (include/uapi/linux/if_packet.h PACKET_*)
PKTTYPES = ("host", "broadcast", "multicast", "otherhost", "outgoing", "loopback", "fastroute")
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warning", "notice", "info", "debug")
LIMIT_UNITS = {"s": "sec", "sec": "sec", "second": "sec", "m": "min", "min": "min",
               "minute": "min", "h": "hour", "hour": "hour", "d": "day", "day": "day"}

# (type, code range) of the ICMP names libebt_ip / libebt_ip6 accept.
ICMP_NAMES: dict[str, tuple[int, int, int]] = {
    "echo-reply": (0, 0, 255), "destination-unreachable": (3, 0, 255),
    "network-unreachable": (3, 0, 0), "host-unreachable": (3, 1, 1),
    "protocol-unreachable": (3, 2, 2), "port-unreachable": (3, 3, 3),
    "fragmentation-needed": (3, 4, 4), "source-quench": (4, 0, 255), "redirect": (5, 0, 255),
    "echo-request": (8, 0, 255), "router-advertisement": (9, 0, 255),
    "router-solicitation": (10, 0, 255), "time-exceeded": (11, 0, 255),
    "ttl-zero-during-transit": (11, 0, 0), "ttl-zero-during-reassembly": (11, 1, 1),
    "parameter-problem": (12, 0, 255), "timestamp-request": (13, 0, 255),
    "timestamp-reply": (14, 0, 255), "address-mask-request": (17, 0, 255),
    "address-mask-reply": (18, 0, 255),
}
ICMP6_NAMES: dict[str, tuple[int, int, int]] = {
    "destination-unreachable": (1, 0, 255), "no-route": (1, 0, 0),
    "communication-prohibited": (1, 1, 1), "address-unreachable": (1, 3, 3),
    "port-unreachable": (1, 4, 4), "packet-too-big": (2, 0, 255), "time-exceeded": (3, 0, 255),
    "parameter-problem": (4, 0, 255), "echo-request": (128, 0, 255), "echo-reply": (129, 0, 255),
    "router-solicitation": (133, 0, 255), "router-advertisement": (134, 0, 255),
    "neighbour-solicitation": (135, 0, 255), "neighbor-solicitation": (135, 0, 255),
    "neighbour-advertisement": (136, 0, 255), "neighbor-advertisement": (136, 0, 255),
    "redirect": (137, 0, 255),
}

FULL_MASK = "ff:ff:ff:ff:ff:ff"
# ebtables' special MAC words (ebtables.c / libebtables: ebt_get_mac_and_mask)
MAC_WORDS = {
    "unicast": ("00:00:00:00:00:00", "01:00:00:00:00:00"),
    "multicast": ("01:00:00:00:00:00", "01:00:00:00:00:00"),
    "broadcast": ("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"),
    "bga": ("01:80:c2:00:00:00", "ff:ff:ff:ff:ff:ff"),
}
_MAC_WORD_NAME = {v: k.capitalize() if k != "bga" else "BGA" for k, v in MAC_WORDS.items()}
_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def parse_int(text: str, lo: int = 0, hi: int = 0xFFFFFFFF) -> int:
    """An integer in C notation (`42`, `0x2a`), range-checked like strtoul + bounds."""
    value = int(text, 0) if not re.fullmatch(r"0[0-7]+", text) else int(text, 8)
    if not lo <= value <= hi:
        raise ValueError(f"{text!r} is out of range {lo}..{hi}")
    return value


def parse_ethertype(text: str) -> int | str:
    """`-p` value: a name from /etc/ethertypes, `LENGTH`, or hex with or without 0x (ebtables
    reads it with strtol(..., 16))."""
    low = text.lower()
    if low == LENGTH:
        return LENGTH
    if low in _ETHER_BY_LOWER:
        return _ETHER_BY_LOWER[low]
    try:
        value = int(text, 16)
    except ValueError:
        raise ValueError(f"unknown ethertype {text!r}") from None
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"ethertype {text!r} is out of range")
    return value


def parse_frame_type(text: str) -> int | str:
    """`-p`: an ethertype from 0x0600 up or LENGTH (below 0x0600 the field is an 802.3 length,
    and ebtables refuses `-p 0`)."""
    value = parse_ethertype(text)
    if isinstance(value, int) and value < 0x0600:
        raise ValueError(f"ethertype {text!r} is below 0600 (an 802.3 length: use LENGTH)")
    return value


def parse_stp(text: str) -> str:
    """An stp option's value, kept as written; a numeric range must not run backwards
    (libebt_stp refuses `--stp-port 2:1`)."""
    m = re.fullmatch(r"(\d+):(\d+)", text)
    if m and int(m.group(1)) > int(m.group(2)):
        raise ValueError(f"range {text} runs backwards")
    return text


def format_ethertype(value: int | str) -> str:
    if value == LENGTH:
        return "Length"
    return _ETHER_NAME.get(value, f"0x{value:04x}")  # type: ignore[arg-type]


def parse_mac(text: str) -> str:
    """A MAC address, normalised to lower-case two-digit groups."""
    if not _MAC_RE.match(text):
        raise ValueError(f"bad MAC address {text!r}")
    return ":".join(f"{int(p, 16):02x}" for p in text.split(":"))


def parse_mac_mask(text: str) -> tuple[str, str]:
    """`MAC[/MASK]` or one of Unicast/Multicast/Broadcast/BGA -> (mac, mask)."""
    word = MAC_WORDS.get(text.lower())
    if word:
        return word
    mac, _, mask = text.partition("/")
    return parse_mac(mac), parse_mac(mask) if mask else FULL_MASK


def format_mac_mask(value: tuple[str, str]) -> str:
    if value in _MAC_WORD_NAME:
        return _MAC_WORD_NAME[value]
    mac, mask = value
    return mac if mask == FULL_MASK else f"{mac}/{mask}"


def parse_ipv4_net(text: str) -> Any:
    """`ADDR[/LEN|/MASK]`; host bits are cleared, as ebtables does (it stores addr & mask). A
    non-contiguous mask (`1.2.3.4/255.0.255.255`, accepted by ebtables) is a MaskedNetwork."""
    return _net(text, ipaddress.IPv4Network)


def parse_ipv6_net(text: str) -> Any:
    return _net(text, ipaddress.IPv6Network)


def _net(text: str, kind) -> Any:
    addr, _, mask = text.partition("/")
    if mask and not mask.isdigit():
        value = MaskedNetwork.parse(addr, mask)
        if value.version != kind(addr).version:
            raise ValueError(f"{text}: not an IPv{kind(addr).version} address")
        return value
    return kind(text, strict=False)


def format_net(net: Any) -> str:
    if isinstance(net, MaskedNetwork):
        return str(net)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def parse_ip_proto(text: str) -> int:
    low = text.lower()
    if low in IP_PROTOCOLS:
        return IP_PROTOCOLS[low]
    if low in _IP_PROTO_ALIASES:
        return _IP_PROTO_ALIASES[low]
    try:
        return parse_int(text, 0, 255)
    except ValueError:
        raise ValueError(f"unknown IP protocol {text!r}") from None


def format_ip_proto(value: int) -> str:
    return _IP_PROTO_NAME.get(value, str(value))


def _port(text: str, default: int) -> int:
    return default if text == "" else parse_int(text, 0, 65535)


def parse_port_range(text: str) -> tuple[int, int]:
    """`80`, `1024:65535`, `:80`, `1024:` -> (lo, hi) as libebt_ip's parse_port_range."""
    if ":" in text:
        lo_s, hi_s = text.split(":", 1)
        lo, hi = _port(lo_s, 0), _port(hi_s, 65535)
    else:
        lo = hi = _port(text, 0)
    if lo > hi:
        raise ValueError(f"port range {text!r} is reversed")
    return lo, hi


def format_range(value: tuple[int, int]) -> str:
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}:{hi}"


def _range(text: str, hi_max: int) -> tuple[int, int]:
    if ":" in text:
        a, b = text.split(":", 1)
        return parse_int(a or "0", 0, hi_max), parse_int(b or str(hi_max), 0, hi_max)
    v = parse_int(text, 0, hi_max)
    return v, v


def parse_icmp(text: str, names: dict[str, tuple[int, int, int]]
               ) -> tuple[tuple[int, int], tuple[int, int]]:
    """`NAME`, `TYPE[:TYPE][/CODE[:CODE]]` -> ((type_lo, type_hi), (code_lo, code_hi))."""
    if text.lower() in names:
        t, clo, chi = names[text.lower()]
        return (t, t), (clo, chi)
    type_s, _, code_s = text.partition("/")
    try:
        types = _range(type_s, 255)
        codes = _range(code_s, 255) if code_s else (0, 255)
    except ValueError:
        raise ValueError(f"unknown ICMP type {text!r}") from None
    return types, codes


def format_icmp(value: tuple[tuple[int, int], tuple[int, int]]) -> str:
    types, codes = value
    out = format_range(types)
    if codes != (0, 255):
        out += "/" + format_range(codes)
    return out


def parse_arp_op(text: str) -> int:
    for i, name in enumerate(ARP_OPCODES, 1):
        if name.lower() == text.lower():
            return i
    try:
        return parse_int(text, 0, 0xFFFF)
    except ValueError:
        raise ValueError(f"unknown ARP opcode {text!r}") from None


def format_arp_op(value: int) -> str:
    return ARP_OPCODES[value - 1] if 1 <= value <= len(ARP_OPCODES) else str(value)


def parse_arp_htype(text: str) -> int:
    return 1 if text.lower() == "ethernet" else parse_int(text, 0, 0xFFFF)


def format_arp_ptype(value: int | str) -> str:
    return f"0x{value:x}" if isinstance(value, int) else str(value)


def parse_mark(text: str) -> tuple[int | None, int]:
    """`--mark VALUE[/MASK]` -> (value, mask); `--mark /MASK` -> (None, mask), which ebt_mark_m
    reads as "any of these bits set" (EBT_MARK_OR)."""
    value_s, slash, mask_s = text.partition("/")
    mask = parse_int(mask_s) if slash else 0xFFFFFFFF
    if value_s == "":
        if not slash:
            raise ValueError("empty mark")
        return None, mask
    return parse_int(value_s), mask


def format_mark(value: tuple[int | None, int]) -> str:
    mark, mask = value
    if mark is None:
        return f"/0x{mask:x}"
    return f"0x{mark:x}" if mask == 0xFFFFFFFF else f"0x{mark:x}/0x{mask:x}"


def parse_pkttype(text: str) -> str:
    low = text.lower()
    if low in PKTTYPES:
        return low
    value = parse_int(text, 0, 255)
    return PKTTYPES[value] if value < len(PKTTYPES) else str(value)


def parse_limit(text: str) -> tuple[int, str]:
    """`3/m` -> (3, "min"); a bare number means per second (libebt_limit)."""
    count_s, _, unit = text.partition("/")
    unit_n = LIMIT_UNITS.get(unit.lower() or "sec")
    if unit_n is None:
        raise ValueError(f"bad rate unit in {text!r}")
    return parse_int(count_s, 1), unit_n


def format_limit(value: tuple[int, str]) -> str:
    return f"{value[0]}/{value[1]}"


def parse_among(text: str) -> frozenset[tuple[str, ipaddress.IPv4Address | None]]:
    """`MAC[=IP],MAC...` -> {(mac, ip or None)} (libebt_among)."""
    out = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        mac, eq, ip = item.partition("=")
        out.add((parse_mac(mac), ipaddress.IPv4Address(ip) if eq else None))
    if not out:
        raise ValueError("empty among list")
    return frozenset(out)


def format_among(value: frozenset) -> str:
    items = sorted(value, key=lambda e: (e[0], str(e[1] or "")))
    return ",".join(mac if ip is None else f"{mac}={ip}" for mac, ip in items)


def parse_log_level(text: str) -> str:
    low = text.lower()
    if low in LOG_LEVELS:
        return low
    if low == "warn":
        return "warning"
    return LOG_LEVELS[parse_int(text, 0, 7)]


def quote(text: str) -> str:
    """Double-quote a string for ebtables-restore (as ebtables-save prints --log-prefix)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
