"""-m set --match-set NAME FLAGS (net/netfilter/xt_set.c) over the sets of `ipset save`.

What the kernel does, and where (net/netfilter/ipset/):
- ip_set_core.c ip_set_test: no match when the rule gives fewer src/dst flags than the set has
  dimensions, or when the set's family is not the packet's (NFPROTO_UNSPEC sets — bitmap:port,
  list:set — take both); then the type's lookup; with --return-nomatch, on a type that has
  `nomatch` entries (the hash types with a net dimension), a matched entry becomes no match
  and a nomatch entry a match.
- ip_set_hash_gen.h mtype_test_cidrs: the net dimensions are tried from the most specific
  prefix down; the first entry found decides, so a `nomatch` /24 inside a /8 carves it out.
- FLAGS: the i-th word says which address or port of the packet (src or dst) the i-th
  dimension looks at (IPSET_DIM_*_SRC).
- ports (ip_set_getport.c): hash types key on (protocol, port), port 0 for protocols without
  ports; ICMP on type/code (named unknown here); bitmap:port takes TCP and UDP only.
- list:set (ip_set_list_set.c list_set_ktest): the member sets in order, the first that
  matches answers.
Without ipset-save.txt the contents are unknown: the match says so, naming the set. Entries
with a timeout are taken as present (snapshot/read.py records that assumption).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nflens.ir.host import shared
from nflens.ir.ipset import IpSet, IpSetEntry
from nflens.ir.packet import max_address
from nflens.ir.rules import XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.region import EMPTY, FULL, Region, complement, merge, subtract
from nflens.kernel.region import unknown as unknown_region

from ._xt_util import constrain_by_evaluation

DIALECT = "xt"
NAMES = ("set",)

_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "132": "sctp", "136": "udplite", "1": "icmp",
                  "58": "icmpv6", "47": "gre", "50": "esp", "51": "ah"}
_WITH_PORTS = ("tcp", "udp", "sctp", "udplite")
_COUNTERS = ("packets-eq", "packets-lt", "packets-gt", "bytes-eq", "bytes-lt", "bytes-gt")
_ADDRESS_DIMS = ("ip", "net")


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    """AND of the options; --match-set with its own `!`, counters undecidable."""
    return_nomatch = match.get("return-nomatch") is not None
    unknown: Unknown | None = None
    for opt in match.opts:
        if opt.name in _COUNTERS:
            unknown = unknown or Unknown(f"-m set --{opt.name}: the set's packet and byte "
                                         "counters are not modelled")
            continue
        if opt.name != "match-set":
            continue  # --return-nomatch modifies --match-set; update-counters changes nothing
        name, flags = opt.value
        r = _test(ctx, name, flags, return_nomatch, 0)
        if isinstance(r, Unknown):
            unknown = unknown or r
        elif r == opt.negated:
            return False
    return unknown if unknown is not None else True


def _find(ctx: PacketContext, name: str) -> IpSet | Unknown:
    found = ctx.env.ipset(name)
    if found is None:
        return Unknown(f"-m set --match-set {name}: the set {name} is not in ipset-save.txt")
    if isinstance(found, Unknown):
        return Unknown(f"-m set --match-set {name}: {found.reason}")
    return found


def _applies(ipset: IpSet, ctx: PacketContext, flags: tuple[str, ...]) -> bool:
    """ip_set_test's preconditions: enough dimensions given, the family the packet's."""
    if len(flags) < len(ipset.dimensions):
        return False
    family = {"ip": "inet", "ip6": "inet6"}.get(ctx.family)
    if family is None and ctx.pkt is not None:
        family = "inet" if ctx.pkt.family == 4 else "inet6"
    return ipset.family is None or ipset.family == family


def _test(ctx: PacketContext, name: str, flags: tuple[str, ...], return_nomatch: bool,
          depth: int) -> bool | Unknown:
    ipset = _find(ctx, name)
    if isinstance(ipset, Unknown):
        return ipset
    if ipset.unsupported:
        return Unknown(f"-m set --match-set {name}: ipset {name}'s {ipset.unsupported[0]} is "
                       "not modelled")
    if not _applies(ipset, ctx, flags) or ctx.pkt is None:
        return False
    if ipset.type == "list:set":
        return _test_members(ctx, ipset, flags, return_nomatch, depth)
    key = _key(ipset, ctx, flags)
    if key is None or isinstance(key, Unknown):
        return False if key is None else key
    best = _lookup(ipset, key)
    if best is None:
        return False
    matched = not best.nomatch
    if return_nomatch and ipset.has_nomatch:
        matched = not matched
    return matched


def _test_members(ctx: PacketContext, ipset: IpSet, flags: tuple[str, ...],
                  return_nomatch: bool, depth: int) -> bool | Unknown:
    """list_set_ktest: the first member that matches answers; one undecided member that no
    later member overrules leaves the answer undecided."""
    if depth > 1:  # the kernel refuses a list:set inside a list:set (IPSET_ERR_LOOP)
        return Unknown(f"ipset {ipset.name}: a list:set nested in a list:set")
    unknown: Unknown | None = None
    for entry in ipset.entries:
        r = _test(ctx, str(entry.values[0]), flags, return_nomatch, depth + 1)
        if r is True:
            return True
        if isinstance(r, Unknown):
            unknown = unknown or r
    return unknown if unknown is not None else False


def _key(ipset: IpSet, ctx: PacketContext, flags: tuple[str, ...]) -> tuple[Any, ...] | \
        Unknown | None:
    """The packet's value for each dimension; None when the type cannot look this packet up
    (bitmap:port and a packet that is neither TCP nor UDP: -EINVAL, no match)."""
    pkt = ctx.pkt
    assert pkt is not None
    out: list[Any] = []
    for dim, flag in zip(ipset.dimensions, flags):
        src = flag == "src"
        if dim in _ADDRESS_DIMS:
            out.append(pkt.src if src else pkt.dst)
            continue
        proto = _PROTO_NUMBERS.get(pkt.proto, pkt.proto)
        if proto in ("icmp", "icmpv6"):
            if any(e.values[ipset.dimensions.index("port")][0] == proto for e in ipset.entries):
                return Unknown(f"ipset {ipset.name}: ICMP type/code entries are not modelled")
            return None
        if ipset.type == "bitmap:port" and proto not in ("tcp", "udp"):
            return None
        port = (pkt.sport if src else pkt.dport) if proto in _WITH_PORTS else 0
        out.append((proto, port))
    return tuple(out)


def _contains(entry: IpSetEntry, key: tuple[Any, ...]) -> bool:
    for value, have in zip(entry.values, key):
        if isinstance(value, tuple):
            proto, port = value
            if port != have[1] or proto not in ("any", have[0]):
                return False
        elif isinstance(value, str) or have.version != value.version or have not in value:
            return False
    return True


def _index(ipset: IpSet) -> tuple[int, dict[int, dict[int, list[IpSetEntry]]] | None]:
    """Per set: its entries by prefix length and network, for a set with one address
    dimension (with that dimension's position); None for the others (scanned). A CrowdSec or
    fail2ban set holds tens of thousands of entries, and an audit looks a set up once per
    simulated cell: built once per set object, through the host's one cache (`shared`)."""
    return shared("ipset index", (ipset,), lambda: _build_index(ipset))


def _build_index(ipset: IpSet) -> tuple[int, dict[int, dict[int, list[IpSetEntry]]] | None]:
    at = [i for i, d in enumerate(ipset.dimensions) if d in _ADDRESS_DIMS]
    if len(at) != 1:
        return -1, None
    index: dict[int, dict[int, list[IpSetEntry]]] = {}
    for entry in ipset.entries:
        net = entry.values[at[0]]
        assert isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        index.setdefault(net.prefixlen, {}).setdefault(
            int(net.network_address) >> (net.max_prefixlen - net.prefixlen), []).append(entry)
    return at[0], dict(sorted(index.items(), reverse=True))  # most specific first


def _lookup(ipset: IpSet, key: tuple[Any, ...]) -> IpSetEntry | None:
    """The entry that decides `key`: the most specific one containing it (mtype_test_cidrs
    tries the prefix lengths from the longest down), by the index where there is one."""
    at, index = _index(ipset)
    if index is None:
        return _most_specific(ipset, [e for e in ipset.entries if _contains(e, key)])
    addr = key[at]
    bits = addr.max_prefixlen
    for plen, nets in index.items():
        for entry in nets.get(int(addr) >> (bits - plen), ()):
            if _contains(entry, key):
                return entry
    return None


def _most_specific(ipset: IpSet, found: list[IpSetEntry]) -> IpSetEntry | None:
    """mtype_test_cidrs: the most specific prefixes are tried first, the first dimension's
    before the second's."""
    if not found:
        return None
    return max(found, key=lambda e: tuple(v.prefixlen for v in e.values
                                          if not isinstance(v, (tuple, str))))


# --- the symbolic side -----------------------------------------------------------------------
# A set's addresses on one axis: a constant (True/False: no address dimension, decided on the
# fixed fields), (axis, intervals), or a named Unknown.
Addresses = bool | tuple[str, list[tuple[int, int]]] | Unknown


def constrain(match: XtMatch, ctx: PacketContext) -> Region:
    """The exact addresses a set matches, on the axis its one address dimension looks at; the
    other dimensions (ports) decided on the fixed fields. A set of address pairs
    (hash:net,net) is not a region of one axis: named unknown."""
    assert ctx.pkt is not None, "a symbolic question always carries its placeholder packet"
    return_nomatch = match.get("return-nomatch") is not None
    top = max_address(ctx.pkt.family)
    region = FULL
    for opt in match.opts:
        if opt.name != "match-set":
            region &= constrain_by_evaluation(evaluate, XtMatch("set", (opt,)), ctx)
            continue
        name, flags = opt.value
        found = _addresses(ctx, name, flags, return_nomatch, 0)
        if isinstance(found, Unknown):
            region &= unknown_region(found.reason)
        elif isinstance(found, bool):
            region &= FULL if found != opt.negated else EMPTY
        else:
            axis, ranges = found
            ivs = complement(ranges, top) if opt.negated else tuple(ranges)
            region &= (Region(src=ivs) if axis == "src" else Region(dst=ivs)) if ivs else EMPTY
    return region


def _addresses(ctx: PacketContext, name: str, flags: tuple[str, ...], return_nomatch: bool,
               depth: int) -> Addresses:
    ipset = _find(ctx, name)
    if isinstance(ipset, Unknown):
        return ipset
    if ipset.unsupported:
        return _test(ctx, name, flags, return_nomatch, depth)  # the same named Unknown
    if not _applies(ipset, ctx, flags):
        return False
    if ipset.type == "list:set":
        return _member_addresses(ctx, ipset, flags, return_nomatch, depth)
    at = [i for i, d in enumerate(ipset.dimensions) if d in _ADDRESS_DIMS]
    if not at:
        return _test(ctx, name, flags, return_nomatch, depth)
    if len(at) > 1:
        return Unknown(f"-m set --match-set {name}: ipset {name} ({ipset.type}) holds address "
                       "pairs, which one address axis cannot show")
    key = _key(ipset, ctx, flags)
    if key is None or isinstance(key, Unknown):
        return False if key is None else key
    rest = [e for e in ipset.entries
            if _contains(_without(e, at[0]), key[:at[0]] + key[at[0] + 1:])]
    return flags[at[0]], _painted(ipset, rest, at[0], return_nomatch)


def _without(entry: IpSetEntry, index: int) -> IpSetEntry:
    return IpSetEntry(entry.values[:index] + entry.values[index + 1:], entry.nomatch)


def _painted(ipset: IpSet, entries: list[IpSetEntry], at: int,
             return_nomatch: bool) -> list[tuple[int, int]]:
    """The addresses whose most specific entry matches: entries painted from the least
    specific prefix to the most, each adding its network (an entry) or removing it (nomatch),
    so the most specific one that contains an address decides it, as mtype_test_cidrs does."""
    out: list[tuple[int, int]] = []
    invert = return_nomatch and ipset.has_nomatch
    for entry in sorted(entries, key=lambda e: e.values[at].prefixlen):  # type: ignore[union-attr]
        net = entry.values[at]
        assert isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        span = [(int(net.network_address), int(net.broadcast_address))]
        out = merge(out + span) if entry.nomatch == invert else subtract(out, span)
    return out


def _member_addresses(ctx: PacketContext, ipset: IpSet, flags: tuple[str, ...],
                      return_nomatch: bool, depth: int) -> Addresses:
    """A list:set matches where any member does: the union of the members' addresses, on one
    axis (members looking at different axes, or an undecided member, leave it unknown)."""
    if depth > 1:
        return Unknown(f"ipset {ipset.name}: a list:set nested in a list:set")
    axes: set[str] = set()
    ranges: list[tuple[int, int]] = []
    for entry in ipset.entries:
        found = _addresses(ctx, str(entry.values[0]), flags, return_nomatch, depth + 1)
        if found is True or isinstance(found, Unknown):
            return found
        if isinstance(found, tuple):
            axes.add(found[0])
            ranges = merge(ranges + found[1])
    if len(axes) > 1:
        return Unknown(f"-m set --match-set {ipset.name}: its members look at the source and "
                       "the destination")
    return (axes.pop(), ranges) if axes else False
