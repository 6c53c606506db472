"""The option grammar of ebtables: which option belongs to which match, watcher or target.

One table (`SPECS`) drives both directions: the parser looks an option up by any of its names,
the generator prints the first name with the formatter. The order of `SPECS` is also the
canonical order of options inside a match, so that ebtables-save's reordering
(`--ip-tos` before `--ip-proto`) does not change the IR.

Modules follow the kernel's split (net/bridge/netfilter/): "eb" is the built-in part of
`struct ebt_entry` (ebtables.c ebt_basic_match), "eb_ip" is ebt_ip.c, and so on. Watchers
(ebt_log.c, ebt_nflog.c) run after the matches and before the target, so they become
non-terminal Actions ("log", "nflog").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nflens.dialects.ebtables import values as v


@dataclass(frozen=True)
class Spec:
    """One option: `names[0]` is what the generator prints; `parse=None` means a flag."""

    names: tuple[str, ...]
    module: str  # eb, eb_ip, ..., or "log"/"nflog" (watchers), "target"
    key: str
    parse: Callable[[str], Any] | None = None
    fmt: Callable[[Any], str] = str
    negatable: bool = True


def _s(names: str, module: str, key: str, parse=None, fmt=str, negatable=True) -> Spec:
    return Spec(tuple(names.split()), module, key, parse, fmt, negatable)


def _icmp4(text: str):
    return v.parse_icmp(text, v.ICMP_NAMES)


def _icmp6(text: str):
    return v.parse_icmp(text, v.ICMP6_NAMES)


def _u8(text: str) -> int:
    return v.parse_int(text, 0, 255)


def _u16(text: str) -> int:
    return v.parse_int(text, 0, 0xFFFF)


def _u32(text: str) -> int:
    return v.parse_int(text)


def _hex(value: int) -> str:
    return f"0x{value:x}"


_STP_KEYS = ("type", "flags", "root-prio", "root-addr", "root-cost", "sender-prio",
             "sender-addr", "port", "msg-age", "max-age", "hello-time", "forward-delay")

SPECS: tuple[Spec, ...] = (
    # built-in (struct ebt_entry)
    _s("-p --protocol --proto", "eb", "proto", v.parse_frame_type, v.format_ethertype),
    _s("-s --source --src", "eb", "src", v.parse_mac_mask, v.format_mac_mask),
    _s("-d --destination --dst", "eb", "dst", v.parse_mac_mask, v.format_mac_mask),
    _s("-i --in-interface --in-if", "eb", "in", str),
    _s("--logical-in", "eb", "logical_in", str),
    _s("-o --out-interface --out-if", "eb", "out", str),
    _s("--logical-out", "eb", "logical_out", str),
    # ebt_ip.c
    _s("--ip-src --ip-source", "eb_ip", "src", v.parse_ipv4_net, v.format_net),
    _s("--ip-dst --ip-destination", "eb_ip", "dst", v.parse_ipv4_net, v.format_net),
    _s("--ip-tos", "eb_ip", "tos", _u8, _hex),
    _s("--ip-proto --ip-protocol", "eb_ip", "proto", v.parse_ip_proto, v.format_ip_proto),
    _s("--ip-sport --ip-source-port", "eb_ip", "sport", v.parse_port_range, v.format_range),
    _s("--ip-dport --ip-destination-port", "eb_ip", "dport", v.parse_port_range, v.format_range),
    _s("--ip-icmp-type", "eb_ip", "icmp_type", _icmp4, v.format_icmp),
    _s("--ip-igmp-type", "eb_ip", "igmp_type", lambda t: v._range(t, 255), v.format_range),
    # ebt_ip6.c
    _s("--ip6-src --ip6-source", "eb_ip6", "src", v.parse_ipv6_net, v.format_net),
    _s("--ip6-dst --ip6-destination", "eb_ip6", "dst", v.parse_ipv6_net, v.format_net),
    _s("--ip6-tclass", "eb_ip6", "tclass", _u8, _hex),
    _s("--ip6-proto --ip6-protocol", "eb_ip6", "proto", v.parse_ip_proto, v.format_ip_proto),
    _s("--ip6-sport --ip6-source-port", "eb_ip6", "sport", v.parse_port_range, v.format_range),
    _s("--ip6-dport --ip6-destination-port", "eb_ip6", "dport", v.parse_port_range,
       v.format_range),
    _s("--ip6-icmp-type", "eb_ip6", "icmp_type", _icmp6, v.format_icmp),
    # ebt_arp.c
    _s("--arp-op --arp-opcode", "eb_arp", "op", v.parse_arp_op, v.format_arp_op),
    _s("--arp-htype", "eb_arp", "htype", v.parse_arp_htype),
    _s("--arp-ptype", "eb_arp", "ptype", v.parse_ethertype, v.format_arp_ptype),
    _s("--arp-ip-src", "eb_arp", "ip_src", v.parse_ipv4_net, v.format_net),
    _s("--arp-ip-dst", "eb_arp", "ip_dst", v.parse_ipv4_net, v.format_net),
    _s("--arp-mac-src", "eb_arp", "mac_src", v.parse_mac_mask, v.format_mac_mask),
    _s("--arp-mac-dst", "eb_arp", "mac_dst", v.parse_mac_mask, v.format_mac_mask),
    _s("--arp-gratuitous", "eb_arp", "gratuitous"),
    # ebt_vlan.c
    _s("--vlan-id", "eb_vlan", "id", lambda t: v.parse_int(t, 0, 4095)),
    _s("--vlan-prio", "eb_vlan", "prio", lambda t: v.parse_int(t, 0, 7)),
    _s("--vlan-encap", "eb_vlan", "encap", v.parse_ethertype, v.format_ethertype),
    # ebt_mark_m.c
    _s("--mark", "eb_mark", "mark", v.parse_mark, v.format_mark),
    # ebt_pkttype.c
    _s("--pkttype-type", "eb_pkttype", "type", v.parse_pkttype),
    # ebt_among.c
    _s("--among-dst", "eb_among", "dst", v.parse_among, v.format_among),
    _s("--among-src", "eb_among", "src", v.parse_among, v.format_among),
    _s("--among-dst-file", "eb_among", "dst_file", str),
    _s("--among-src-file", "eb_among", "src_file", str),
    # ebt_802_3.c
    _s("--802_3-sap", "eb_802_3", "sap", _u8, _hex),
    _s("--802_3-type", "eb_802_3", "type", _u16, _hex),
    # ebt_limit (xt_limit): not negatable
    _s("--limit", "eb_limit", "rate", v.parse_limit, v.format_limit, negatable=False),
    _s("--limit-burst", "eb_limit", "burst", lambda t: v.parse_int(t, 0, 10000),
       negatable=False),
    # ebt_stp.c: values kept as written (the model never sees BPDUs)
    *(_s(f"--stp-{k}", "eb_stp", k.replace("-", "_"), v.parse_stp) for k in _STP_KEYS),
    # watchers: ebt_log.c, ebt_nflog.c
    _s("--log", "log", "log", negatable=False),
    _s("--log-level", "log", "level", v.parse_log_level, negatable=False),
    _s("--log-prefix", "log", "prefix", str, v.quote, negatable=False),
    _s("--log-ip", "log", "ip", negatable=False),
    _s("--log-arp", "log", "arp", negatable=False),
    _s("--log-ip6", "log", "ip6", negatable=False),
    _s("--nflog", "nflog", "nflog", negatable=False),
    _s("--nflog-group", "nflog", "group", _u32, negatable=False),
    _s("--nflog-prefix", "nflog", "prefix", str, v.quote, negatable=False),
    _s("--nflog-range", "nflog", "range", _u32, negatable=False),
    _s("--nflog-threshold", "nflog", "threshold", _u32, negatable=False),
)

# Target options (ebt_mark.c, ebt_nat.c (dnat/snat), ebt_redirect.c, ebt_arpreply.c).
TARGET_SPECS: tuple[Spec, ...] = (
    _s("--to-dst --to-destination", "dnat", "mac", v.parse_mac),
    _s("--dnat-target", "dnat", "target", str),
    _s("--to-src --to-source", "snat", "mac", v.parse_mac),
    _s("--snat-target", "snat", "target", str),
    _s("--snat-arp", "snat", "arp"),
    _s("--redirect-target", "redirect", "target", str),
    _s("--arpreply-mac", "arpreply", "mac", v.parse_mac),
    _s("--arpreply-target", "arpreply", "target", str),
    _s("--mark-set --set-mark", "mark", "set", _u32, _hex),
    _s("--mark-or", "mark", "or", _u32, _hex),
    _s("--mark-and", "mark", "and", _u32, _hex),
    _s("--mark-xor", "mark", "xor", _u32, _hex),
    _s("--mark-target", "mark", "target", str),
)

BY_NAME: dict[str, Spec] = {n: s for s in SPECS for n in s.names}
TARGET_BY_NAME: dict[str, Spec] = {n: s for s in TARGET_SPECS for n in s.names}
MODULE_ORDER: tuple[str, ...] = tuple(dict.fromkeys(s.module for s in SPECS))
KEY_ORDER: dict[tuple[str, str], int] = {(s.module, s.key): i for i, s in enumerate(SPECS)}
SPEC_OF: dict[tuple[str, str], Spec] = {(s.module, s.key): s for s in SPECS}
WATCHERS = ("log", "nflog")
MATCH_MODULES = tuple(m for m in MODULE_ORDER if m not in WATCHERS)
STANDARD_TARGETS = {"ACCEPT": "accept", "DROP": "drop", "CONTINUE": "continue",
                    "RETURN": "return"}
# Default --X-target of each extension target (ebtables man page).
DEFAULT_TARGET = {"dnat": "accept", "snat": "accept", "redirect": "accept",
                  "arpreply": "drop", "mark": "accept"}
