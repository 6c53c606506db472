"""Symbolic constants nft accepts on the right of a relation (nft(8) "DATA TYPES"; src/proto.c,
src/datatype.c, src/meta.c, src/ct.c of nftables), by the domain of the left-hand key.

Not a match module (NAMES is empty): _nft_common uses these tables to turn names into numbers.
"""

from __future__ import annotations

NAMES: tuple[str, ...] = ()

INET_PROTO = {"hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17,
              "ipv6": 41, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58,
              "ipv6-nonxt": 59, "ipv6-frag": 44, "ipv6-route": 43, "ipv6-opts": 60,
              "sctp": 132, "dccp": 33, "udplite": 136, "ospf": 89, "vrrp": 112, "pim": 103,
              "l2tp": 115, "mpls-in-ip": 137}
ETHER_TYPE = {"ip": 0x0800, "arp": 0x0806, "ip6": 0x86DD, "vlan": 0x8100, "8021q": 0x8100,
              "8021ad": 0x88A8}
NFPROTO = {"ipv4": 2, "ipv6": 10}
ICMP_TYPE = {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
             "echo-request": 8, "router-advertisement": 9, "router-solicitation": 10,
             "time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13,
             "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
             "address-mask-request": 17, "address-mask-reply": 18}
ICMPV6_TYPE = {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
               "parameter-problem": 4, "echo-request": 128, "echo-reply": 129,
               "mld-listener-query": 130, "mld-listener-report": 131, "mld-listener-done": 132,
               "mld-listener-reduction": 132, "nd-router-solicit": 133, "nd-router-advert": 134,
               "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
               "router-renumbering": 138, "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142,
               "mld2-listener-report": 143}
ICMP_CODE = {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2,
             "port-unreachable": 3, "frag-needed": 4, "net-prohibited": 9, "host-prohibited": 10,
             "admin-prohibited": 13}
ICMPV6_CODE = {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3,
               "port-unreachable": 4, "policy-fail": 5, "reject-route": 6}
ARP_OP = {"request": 1, "reply": 2, "rrequest": 3, "rreply": 4, "inrequest": 8, "inreply": 9,
          "nak": 10}
DOMAINS = {"inet_proto": INET_PROTO, "ether_type": ETHER_TYPE, "nfproto": NFPROTO,
           "icmp_type": ICMP_TYPE, "icmpv6_type": ICMPV6_TYPE, "icmp_code": ICMP_CODE,
           "icmpv6_code": ICMPV6_CODE, "arp_op": ARP_OP}
PROTO_NUMBER = {name: number for name, number in INET_PROTO.items()}


def number(domain: str | None, name: str) -> int | None:
    """The number `name` stands for in `domain`, None when it is not a known name."""
    table = DOMAINS.get(domain or "")
    if table is not None and name in table:
        return table[name]
    return None


def proto_number(proto: str | int | None) -> int | None:
    """An ir.Packet's `proto` ("tcp", "icmpv6", "47") as an IP protocol number."""
    if proto is None:
        return None
    if isinstance(proto, int):
        return proto
    if proto.isdigit():
        return int(proto)
    return PROTO_NUMBER.get(proto.lower())
