"""Parse `ipset save` (the `ipset restore` format: `create NAME TYPE OPTIONS`, `add NAME ENTRY
OPTIONS`) into `IpSet`s.

What `ipset save` writes (ipset 7.x, seen on this machine's ipset v7.17):
    create nn hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1d18
    add nn 10.1.0.0/16 nomatch
    add ipp 10.0.0.1,tcp:80
    add bp 22                                  (bitmap:port: one line per port of a range)
    add a 10.0.0.1 timeout 99 comment "x y"
A malformed line is a ParseError `FILE:LINE: what`; a type or option the model does not decide
(hash:mac, hash:net,iface, skbinfo, ...) is kept and named in `IpSet.unsupported`, never refused:
a lookup in that set is then uncertain.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import replace

from nflens.errors import ParseError
from nflens.ir.ipset import MODELLED_DIMENSIONS, IpSet, IpSetEntry, Value
from nflens.literal import excerpt

# create options that take a value / that are bare flags; neither changes what a lookup answers
# except family, netmask, range (read below) and the extensions named in _UNDECIDED
_VALUED = {"family", "hashsize", "maxelem", "timeout", "netmask", "range", "size", "bucketsize",
           "initval", "markmask", "bitmask"}
_FLAGS = {"counters", "comment", "skbinfo", "forceadd"}
_ENTRY_VALUED = {"timeout", "packets", "bytes", "comment", "skbmark", "skbprio", "skbqueue"}
# xt_set's --packets-*/--bytes-* read the counters, which the snapshot has at one moment only
_UNDECIDED = {"bitmask": "a bitmask (not modelled)", "markmask": "a mark mask (not modelled)"}
_PORT_PROTOCOLS = ("tcp", "udp", "sctp", "udplite")


def parse(text: str, file: str = "ipset-save.txt") -> tuple[IpSet, ...]:
    """Every set of an `ipset save` dump, in the order of their `create` lines."""
    sets: dict[str, IpSet] = {}
    entries: dict[str, list[IpSetEntry]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise ParseError(f"{exc}: {excerpt(line)}", file, number) from None
        command, args = words[0], words[1:]
        if command in ("create", "-N") and len(args) >= 2:
            name = args[0]
            if name in sets:
                raise ParseError(f"set {excerpt(name)} is created twice", file, number)
            sets[name] = _create(name, args[1], args[2:], file, number)
            entries[name] = []
        elif command in ("add", "-A") and len(args) >= 2:
            if args[0] not in sets:
                raise ParseError(f"add to set {excerpt(args[0])}, which no create line "
                                 "before it made", file, number)
            entries[args[0]].append(_entry(sets[args[0]], args[1], args[2:], file, number))
        else:
            raise ParseError(f"expected `create NAME TYPE ...` or `add NAME ENTRY ...`, got "
                             f"{excerpt(line)}", file, number)
    return tuple(replace(s, entries=tuple(entries[s.name])) for s in sets.values())


def _options(words: list[str], valued: set[str], file: str, line: int) -> dict[str, str]:
    """`key value` and bare `flag` words into a dict (flags map to "")."""
    out: dict[str, str] = {}
    i = 0
    while i < len(words):
        key = words[i]
        if key in valued:
            if i + 1 >= len(words):
                raise ParseError(f"option {excerpt(key)} needs a value", file, line)
            out[key] = words[i + 1]
            i += 2
            continue
        out[key] = ""  # a flag, known or not: unknown ones are named by the caller
        i += 1
    return out


def _create(name: str, kind: str, words: list[str], file: str, line: int) -> IpSet:
    opts = _options(words, _VALUED, file, line)
    unsupported = [f"option {k}" for k in opts if k not in _VALUED | _FLAGS]
    unsupported += [f"option {k}: {why}" for k, why in _UNDECIDED.items() if k in opts]
    if ":" not in kind:
        raise ParseError(f"set {excerpt(name)}: type {excerpt(kind)} is not METHOD:DIMENSIONS",
                         file, line)
    method, dims = kind.split(":", 1)
    odd = [d for d in dims.split(",") if d not in MODELLED_DIMENSIONS]
    if method not in ("hash", "bitmap", "list") or odd:
        unsupported.append(f"type {kind}")
    family = opts.get("family", "inet")
    if family not in ("inet", "inet6"):
        raise ParseError(f"set {excerpt(name)}: family {excerpt(family)} (expected inet or "
                         "inet6)", file, line)
    unspec = kind in ("bitmap:port", "list:set")  # created NFPROTO_UNSPEC
    netmask = _int(opts["netmask"], "netmask", file, line) if "netmask" in opts else None
    if netmask is not None and not 1 <= netmask <= (128 if family == "inet6" else 32):
        raise ParseError(f"set {excerpt(name)}: netmask {netmask} is out of range for family "
                         f"{family}", file, line)
    port_range = _port_range(opts["range"], file, line) if kind == "bitmap:port" and \
        "range" in opts else None
    return IpSet(name=name, type=kind, family=None if unspec else family, netmask=netmask,
                 port_range=port_range, options=tuple(opts.items()),
                 unsupported=tuple(unsupported), file=file, line=line)


def _entry(ipset: IpSet, element: str, words: list[str], file: str, line: int) -> IpSetEntry:
    opts = _options(words, _ENTRY_VALUED, file, line)
    for key in opts:
        if key not in _ENTRY_VALUED | {"nomatch"}:
            raise ParseError(f"set {excerpt(ipset.name)}: unknown entry option "
                             f"{excerpt(key)}", file, line)
    timeout = _int(opts["timeout"], "timeout", file, line) if "timeout" in opts else None
    values: tuple[Value, ...] = ()
    if not ipset.unsupported:
        values = _values(ipset, element, file, line)
    return IpSetEntry(values=values, nomatch="nomatch" in opts, timeout=timeout, line=line)


def _values(ipset: IpSet, element: str, file: str, line: int) -> tuple[Value, ...]:
    dims = ipset.dimensions
    parts = element.split(",")
    if len(parts) != len(dims):
        raise ParseError(f"set {excerpt(ipset.name)} ({ipset.type}): entry "
                         f"{excerpt(element)} has {len(parts)} parts, the type {len(dims)}",
                         file, line)
    return tuple(_value(ipset, dim, part, file, line) for dim, part in zip(dims, parts))


def _value(ipset: IpSet, dim: str, part: str, file: str, line: int) -> Value:
    if dim == "set":
        return part
    if dim == "port":
        return _port(part, ipset.type == "bitmap:port", file, line)
    try:
        net = ipaddress.ip_network(part, strict=False)
    except ValueError:
        raise ParseError(f"set {excerpt(ipset.name)}: {excerpt(part)} is not an address or "
                         "network", file, line) from None
    if net.version != (6 if ipset.family == "inet6" else 4):
        raise ParseError(f"set {excerpt(ipset.name)} is family {ipset.family}: "
                         f"{excerpt(part)} is not", file, line)
    if ipset.netmask is not None and "/" not in part:
        net = ipaddress.ip_network(f"{net.network_address}/{ipset.netmask}", strict=False)
    return net


def _port(part: str, bare: bool, file: str, line: int) -> tuple[str, int | str]:
    """`tcp:80`, `80` (tcp, as ipset reads it), `udp:53`, `icmp:echo-request`, `gre:0`.
    bitmap:port entries are bare numbers of either TCP or UDP ("any")."""
    proto, _, port = part.rpartition(":")
    proto = proto.lower() or ("any" if bare else "tcp")
    if proto in ("icmp", "icmpv6"):
        return proto, port  # type/code by name or number: kept as text (a named unknown)
    try:
        value = int(port)
    except ValueError:
        raise ParseError(f"{excerpt(part)} is not a port (PROTO:NUMBER)", file, line) from None
    if not 0 <= value <= 65535:
        raise ParseError(f"port {value} is out of range", file, line)
    return proto, value


def _port_range(text: str, file: str, line: int) -> tuple[int, int]:
    lo, dash, hi = text.partition("-")
    first, last = _int(lo, "range", file, line), _int(hi if dash else lo, "range", file, line)
    if not 0 <= first <= last <= 65535:
        raise ParseError(f"port range {excerpt(text)} is not FROM-TO within 0-65535", file, line)
    return first, last


def _int(text: str, what: str, file: str, line: int) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ParseError(f"{what} {excerpt(text)} is not a number", file, line) from None
