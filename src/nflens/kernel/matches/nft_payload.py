"""nft payload expressions: header fields (net/netfilter/nft_payload.c; nft(8) "PAYLOAD
EXPRESSION").

`ip saddr`, `tcp dport`, `th dport`, `icmp type`, `ether saddr`, `vlan id`, `arp operation` ...
A field of a header the packet does not have is MISSING (nft adds a protocol dependency to every
payload match, and nft_payload_eval breaks when the transport header is absent), so
`tcp dport != 80` does not match a UDP packet. Raw payload (`@th,0,16`) is not modelled.
"""

from __future__ import annotations

from typing import Any

from nflens.ir.packet import Packet
from nflens.ir.rules import NftCmp, NftExpr
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.matches._nft_common import MISSING, evaluate_cmp
from nflens.kernel.matches.nft_symbols import proto_number

DIALECT = "nft"
NAMES = ("payload",)
TRANSPORT = {"tcp": 6, "udp": 17, "sctp": 132, "dccp": 33, "udplite": 136}
DOMAINS = {("ip", "protocol"): "inet_proto", ("ip6", "nexthdr"): "inet_proto",
           ("icmp", "type"): "icmp_type", ("icmpv6", "type"): "icmpv6_type",
           ("icmp", "code"): "icmp_code", ("icmpv6", "code"): "icmpv6_code",
           ("ether", "type"): "ether_type", ("vlan", "type"): "ether_type",
           ("arp", "operation"): "arp_op", ("tcp", "flags"): "tcp_flags"}


def evaluate(cmp: NftCmp, ctx: PacketContext) -> MatchResult:
    return evaluate_cmp(cmp, ctx)


def domain(expr: NftExpr) -> str | None:
    return DOMAINS.get((expr.get("protocol"), expr.get("field")))


def value(expr: NftExpr, ctx: PacketContext) -> Any:
    proto, field = expr.get("protocol"), expr.get("field")
    if proto is None:
        return Unknown(f"raw payload @{expr.get('base')},{expr.get('offset')},{expr.get('len')} "
                       "is not modelled")
    if proto in ("ether", "vlan", "arp"):
        return _link(proto, field, ctx)
    pkt = ctx.pkt
    if pkt is None:
        return MISSING
    if proto in ("ip", "ip6"):
        return _network(proto, field, pkt)
    number = proto_number(pkt.proto)
    if proto in TRANSPORT or proto == "th":
        if proto != "th" and number != TRANSPORT[proto]:
            return MISSING
        return _transport(proto, field, pkt)
    if proto in ("icmp", "icmpv6"):
        if number != (1 if proto == "icmp" else 58):
            return MISSING
        found = {"type": pkt.icmp_type, "code": pkt.icmp_code}.get(field, Unknown(
            f"{proto} {field} is not modelled"))
        return MISSING if found is None else found
    return Unknown(f"payload {proto} {field} is not modelled")


def _network(proto: str, field: str, pkt: Packet) -> Any:
    if pkt.family != (4 if proto == "ip" else 6):
        return MISSING
    if field == "saddr":
        return pkt.src
    if field == "daddr":
        return pkt.dst
    if field in ("protocol", "nexthdr"):
        return proto_number(pkt.proto)
    if field in ("ttl", "hoplimit"):
        return pkt.ttl
    if field in ("length", "payload_length"):
        return pkt.length
    if field == "version":
        return 4 if proto == "ip" else 6
    if field == "dscp":
        return pkt.tos >> 2
    if field == "ecn":
        return pkt.tos & 3
    if field == "tos":
        return pkt.tos
    return Unknown(f"{proto} {field} is not modelled")


def _transport(proto: str, field: str, pkt: Packet) -> Any:
    if field == "sport":
        return MISSING if pkt.sport is None else pkt.sport
    if field == "dport":
        return MISSING if pkt.dport is None else pkt.dport
    if field == "flags" and proto == "tcp":
        return frozenset(f.lower() for f in pkt.tcp_flags)
    return Unknown(f"{proto} {field} is not modelled")


def _link(proto: str, field: str, ctx: PacketContext) -> Any:
    if proto == "ether":
        found = {"saddr": ctx.src_mac or (ctx.pkt.src_mac if ctx.pkt else None),
                 "daddr": ctx.dst_mac or (ctx.pkt.dst_mac if ctx.pkt else None),
                 "type": 0x8100 if ctx.vlan is not None else ctx.eth_proto}.get(field)
        return Unknown(f"ether {field} is not known for this packet") if found is None else found
    if proto == "vlan":
        if ctx.vlan is None:
            return MISSING
        return {"id": ctx.vlan, "type": ctx.eth_proto}.get(field, Unknown(f"vlan {field}"))
    arp = ctx.arp
    if arp is None:
        return MISSING
    arp_field = {"operation": arp.op, "saddr ip": arp.sip, "daddr ip": arp.tip,
                 "saddr ether": arp.sha, "daddr ether": arp.tha, "htype": 1, "ptype": 0x0800,
                 "hlen": 6, "plen": 4}.get(field)
    return Unknown(f"arp {field} is not modelled") if arp_field is None else arp_field
