"""-m rpfilter [--loose] [--validmark] [--accept-local] [--invert]: the reverse-path check as
the FIB lookup it is (net/ipv4/netfilter/ipt_rpfilter.c, net/ipv6/netfilter/ip6t_rpfilter.c).

rpfilter_mt (IPv4):
- a looped-back packet or one that came in on a loopback device matches (rpfilter_is_loopback);
- a source 0.0.0.0/8 sending to 255.255.255.255 or 224.0.0.0/24 (DHCP) matches;
- otherwise the kernel looks the *source* up as a destination: flowi4_iif = LOOPBACK_IFINDEX
  (policy rules see `iif lo`), the packet's destination as the lookup's source (0 when it is
  multicast, broadcast or zero: rpfilter_get_saddr), the packet's mark only with --validmark;
  rpfilter_lookup_reverse: no route -> no match; a result that is not RTN_UNICAST fails, except
  RTN_LOCAL with --accept-local; then it matches when the route's device is the input device,
  or always with --loose;
- --invert flips the answer.
ip6t_rpfilter: an unspecified (::) source matches; a link-local source is looked up bound to the
input device (RT6_LOOKUP_F_IFACE), which is not modelled here (named unknown); a local result
with --accept-local matches without the device check IPv4 makes (rpfilter_lookup_reverse6).
The symbolic side is unknown: the answer is a route lookup of each source address (exposure
refines at the route prefixes and decides each cell concretely).
"""

from __future__ import annotations

import ipaddress

from nflens.ir.packet import IPAddress
from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import Region
from nflens.kernel.region import unknown as unknown_region

DIALECT = "xt"
NAMES = ("rpfilter",)

_ZERONET = ipaddress.ip_network("0.0.0.0/8")
_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")
_LBCAST = ipaddress.IPv4Address("255.255.255.255")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    invert = match.get("invert") is not None
    r = _check(match, ctx)
    return r if isinstance(r, Unknown) else r != invert


def _check(match: XtMatch, ctx: PacketContext) -> bool | Unknown:
    pkt, iif = ctx.pkt, ctx.iif
    if pkt is None or iif is None:
        return False
    if isinstance(iif, Unknown):
        return iif
    if iif == "lo" or ctx.env.interface_kind(iif) == "loopback":
        return True  # rpfilter_is_loopback
    src, dst = pkt.src, pkt.dst
    if src.version == 4 and src in _ZERONET and (dst == _LBCAST or dst in _LOCAL_MULTICAST):
        return True
    if src.version == 6:
        if src.is_unspecified:
            return True
        if src.is_link_local:
            return Unknown("-m rpfilter: the reverse lookup of an IPv6 link-local source (bound "
                           "to the input device) is not modelled")
    mark = ctx.mark if match.get("validmark") is not None else 0
    saddr = _lookup_saddr(dst)
    kind = ctx.env.route_type(src, saddr, "lo", mark)
    if isinstance(kind, Unknown):
        return Unknown(f"-m rpfilter: {kind.reason}")
    if kind != "unicast" and not (kind == "local" and match.get("accept-local") is not None):
        return False
    if kind == "local" and src.version == 6:
        return True  # ip6t_rpfilter: RTF_LOCAL with --accept-local matches, whatever device
    if match.get("loose") is not None:
        return True
    oif = ctx.env.route_oif(src, saddr, "lo", mark)
    if isinstance(oif, Unknown):
        return Unknown(f"-m rpfilter: {oif.reason}")
    return oif == iif


def _lookup_saddr(dst: IPAddress) -> IPAddress | None:
    """rpfilter_get_saddr: the packet's destination, unless multicast, broadcast or zero
    (IPv6, rpfilter_addr_unicast: unless it is not a unicast address)."""
    if dst.version == 4 and (dst.is_multicast or dst == _LBCAST or dst in _ZERONET):
        return None
    if dst.version == 6 and (dst.is_multicast or dst.is_unspecified):
        return None
    return dst


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """Unknown, named: a route lookup of each source, not a property of the two axes."""
    return unknown_region("-m rpfilter: a reverse-path route lookup of the source (needs the "
                          "host's routes)")
