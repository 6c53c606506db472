"""Parsers for the host part of a snapshot: `ip -j` JSON, `ss -Htlnup`, `sysctl -a`.

Pure functions from already-read text/JSON to IR objects; `read.py` does the file I/O. Each
raises ParseError naming the file (and the line for line-oriented formats) on malformed input,
so a user can fix the one file that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from nflens.dialects.iptables.grammar import PROTO_NUMBERS
from nflens.errors import ParseError
from nflens.ir.host import Address, Interface, PolicyRule, Route, Socket
from nflens.literal import excerpt
from nflens.snapshot.schemas import Link, LinkInfo, Nexthop, RouteEntry, RuleEntry, entries

# ---- ip -j -d link / ip -j addr ------------------------------------------------------------
# Entries are validated by snapshot/schemas.py first: below, every field has its declared type.


def _addresses(entry: Link, file: str) -> tuple[Address, ...]:
    out = []
    for info in entry.addr_info:
        if info.family not in ("inet", "inet6") or info.local is None:
            continue
        length = info.prefixlen if info.prefixlen is not None else \
            (32 if info.family == "inet" else 128)
        try:
            iface = ipaddress.ip_interface(f"{info.local}/{length}")
        except ValueError as exc:
            raise ParseError(f"bad address in {entry.ifname!r}: {exc}", file) from None
        out.append(Address(iface, str(info.scope)))
    return tuple(out)


def _kind(entry: Link) -> str:
    """linkinfo.info_kind (bridge, veth, dummy, vxlan ...), else the link type."""
    kind = entry.linkinfo.info_kind if entry.linkinfo else None
    if kind:
        return kind
    return "loopback" if entry.link_type == "loopback" else "ether"


def _link_fields(entry: Link) -> dict[str, Any]:
    linkinfo = entry.linkinfo or LinkInfo()
    kind = _kind(entry)
    fields: dict[str, Any] = {
        "kind": kind,
        "mac": entry.address or None,
        "up": "UP" in entry.flags,
        "carrier": "NO-CARRIER" not in entry.flags,
        "mtu": entry.mtu,
        "master": entry.master,
    }
    if kind == "veth" and entry.link_index is not None:
        fields["peer_ifindex"] = entry.link_index
        if entry.link_netnsid is not None:
            fields["peer_netns"] = str(entry.link_netnsid)
    slave = linkinfo.info_slave_data or {}
    if linkinfo.info_slave_kind == "bridge":
        fields["hairpin"] = slave.get("hairpin") is True
    data = linkinfo.info_data or {}
    if kind in ("macvlan", "macvtap", "ipvlan", "ipvtap"):
        # a shim the admin made on the host: its parent and mode decide what it can reach
        fields["lower"] = entry.link
        fields["mode"] = str(data["mode"]) if "mode" in data else None
    if kind == "bridge" and "nf_call_iptables" in data:
        # per-bridge option (ip link set BR type bridge nf_call_iptables 1); the kernel calls
        # iptables when this OR the global sysctl is set (br_netfilter_hooks.c).
        fields["bridge_nf"] = data["nf_call_iptables"] in (1, True)
    return fields


def interfaces(links: Any | None, addrs: Any | None, link_file: str, addr_file: str
               ) -> tuple[Interface, ...]:
    """Merge `ip -j -d link` (kind, master, peers) with `ip -j addr` (addresses) by name."""
    table: dict[str, dict[str, Any]] = {}
    link_entries = entries(Link, links, link_file, "ip -j -d link") if links is not None else []
    for entry in link_entries:
        table[entry.ifname] = {"name": entry.ifname, "index": entry.ifindex,
                               **_link_fields(entry)}
    for entry in entries(Link, addrs, addr_file, "ip -j addr") if addrs is not None else ():
        row = table.setdefault(entry.ifname, {"name": entry.ifname, "index": entry.ifindex,
                                              **_link_fields(entry)})
        row["addresses"] = _addresses(entry, addr_file)
    _pair_local_veths(table, link_entries)
    return tuple(Interface(**row) for row in table.values())


def _pair_local_veths(table: dict[str, dict[str, Any]], links: list[Link]) -> None:
    """A veth whose peer is in the same namespace shows `link: PEER` and no link_index."""
    for entry in links:
        row = table.get(entry.ifname)
        peer = table.get(entry.link) if entry.link else None
        if row and peer and row.get("kind") == "veth" and row.get("peer_ifindex") is None:
            row["peer_ifindex"] = peer["index"]


# ---- routes and rules -----------------------------------------------------------------------


def _network(text: str, version: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if text == "default":
        return ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")
    return ipaddress.ip_network(text, strict=False)


def _route_version(entry: RouteEntry, default: int) -> int:
    for value in (entry.dst, entry.gateway, entry.prefsrc):
        if value and value != "default":
            return 6 if ":" in value else 4
    return default


def routes(data: Any, file: str, version: int) -> list[Route]:
    """`ip -j route show table all`: every table; `default` becomes 0.0.0.0/0 or ::/0; a
    multipath route keeps all its next hops, the first as its `dev`/`gateway`."""
    out = []
    for entry in entries(RouteEntry, data, file, "ip -j route show table all"):
        v = _route_version(entry, version)
        hop = (entry.nexthops or [Nexthop()])[0] if entry.nexthops is not None else entry
        try:
            out.append(Route(
                dst=_network(entry.dst, v),
                type=entry.type,
                table=str(entry.table),
                dev=hop.dev or entry.dev,
                gateway=ipaddress.ip_address(hop.gateway) if hop.gateway else None,
                prefsrc=ipaddress.ip_address(entry.prefsrc) if entry.prefsrc else None,
                metric=entry.metric,
                scope=None if entry.scope is None else str(entry.scope),
                protocol=None if entry.protocol is None else str(entry.protocol),
                nexthops=tuple((h.dev, ipaddress.ip_address(h.gateway) if h.gateway else None)
                               for h in entry.nexthops or ()),
                linkdown=_linkdown_devs(entry),
            ))
        except ValueError as exc:
            raise ParseError(f"bad route {entry.dst!r}: {exc}", file) from None
    return out


def _linkdown_devs(entry: RouteEntry) -> tuple[str, ...]:
    """The devices of the next hops flagged `linkdown`: a multipath route flags each hop in
    its own `flags`, a single-hop route in the route's."""
    hops = entry.nexthops or ()
    if not hops:
        return (entry.dev,) if entry.dev and "linkdown" in entry.flags else ()
    return tuple(h.dev for h in hops if h.dev and "linkdown" in h.flags)


def _selector(value: str | None, length: int | None
              ) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not value or value == "all":
        return None
    return ipaddress.ip_network(f"{value}/{length}" if length is not None else value, strict=False)


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(str(value), 0)


def policy_rules(data: Any, file: str) -> tuple[PolicyRule, ...]:
    """`ip -j rule show`: selectors, fwmark[/mask] and the table or action."""
    out = []
    for entry in entries(RuleEntry, data, file, "ip -j rule show"):
        try:
            mark, mask = entry.fwmark, entry.fwmask
            if isinstance(mark, str) and "/" in mark:
                mark, mask = mark.split("/", 1)
            src = _selector(entry.src, entry.srclen)
            extra = entry.model_extra or {}
            target = entry.target if entry.target is not None else extra.get("goto")
            table = entry.table if entry.table is not None else target
            out.append(PolicyRule(
                priority=entry.priority,
                table=str(table if table is not None else "main"),
                action=entry.action or ("goto" if target is not None else "lookup"),
                src=src, dst=_selector(entry.dst, entry.dstlen),
                iif=entry.iif, oif=entry.oif,
                fwmark=_int(mark), fwmask=_int(mask),
                not_="not" in extra,
                family=src.version if src is not None else 4,
                **_rule_selectors(extra),
            ))
        except (ValueError, TypeError) as exc:
            raise ParseError(f"bad rule (priority {entry.priority}): {exc}", file) from None
    return tuple(out)


# `ip -j rule show` keys of selectors the model does not evaluate (iproute2 ip/iprule.c)
_UNMODELLED_RULE_KEYS = ("tos", "dsfield", "dscp", "flowlabel", "l3mdev", "tun_id",
                         "suppress_ifgroup")


def _rule_selectors(extra: dict[str, Any]) -> dict[str, Any]:
    """The selectors iproute2 prints beside addresses and marks (ip/iprule.c print_rule):
    `ipproto` by name or number, `sport`/`dport` as one number or `*_start`/`*_end`,
    `uid_start`/`uid_end`, `suppress_prefixlen`; the ones not modelled are kept by name."""
    out: dict[str, Any] = {}
    if extra.get("ipproto") is not None:
        out["ipproto"] = _proto_number(str(extra["ipproto"]))
    for key in ("sport", "dport"):
        if extra.get(key) is not None:
            out[key] = (int(extra[key]), int(extra[key]))
        elif extra.get(f"{key}_start") is not None:
            out[key] = (int(extra[f"{key}_start"]), int(extra[f"{key}_end"]))
    if extra.get("uid_start") is not None:
        out["uidrange"] = (int(extra["uid_start"]), int(extra["uid_end"]))
    if extra.get("suppress_prefixlen") is not None:
        out["suppress_prefixlen"] = int(extra["suppress_prefixlen"])
    out["unmodelled"] = tuple(f"{k} {extra[k]}" for k in _UNMODELLED_RULE_KEYS
                              if extra.get(k) not in (None, 0, "0", "default"))
    return out


def _proto_number(text: str) -> int:
    """`ipproto tcp` / `ipproto 6` / `ipproto ipproto-253` (inet_proto_n2a) -> the number."""
    text = text.removeprefix("ipproto-")
    if text.isdigit():
        return int(text)
    if text not in PROTO_NUMBERS:
        raise ValueError(f"unknown ipproto {text!r}")
    return PROTO_NUMBERS[text]


# ---- ss -Htlnup -------------------------------------------------------------------------------

# users:(("name",pid=1,fd=3)): ss prints the name unescaped, so a name may hold `"` itself —
# it ends at the `",pid=` that follows it
_PROCESS = re.compile(r'\(\("(.*?)",pid=(\d+)')


def _local(text: str) -> tuple[str, str | None, int]:
    """`0.0.0.0:8080`, `[::]:8080`, `*:8000`, `127.0.0.1%lo:53`, `[fe80::1%eth0]:22`,
    `[::]%eth0:22` -> (address text, device, port). ss prints an IPv6 socket's bound device
    after the bracket (inet_addr_print: the bracketed address, then `%` and the device; seen
    in the fuzzer's `[fd02::1]%ra:8081`)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"no port in {text!r}")
    host, _, iface = host.partition("%") if host.startswith("[") and "]%" in host \
        else (host, "", "")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not iface:
        host, _, iface = host.partition("%")
    return host, iface or None, int(port)


_UID = re.compile(r" uid:(\d+)")


def _owner(line: str) -> int | None:
    """The socket's owner from `ss -e`: `uid:N` (ss prints it only when not 0) before
    `ino:`; without `ino:` the line has no extended part (plain `ss -Htlnup`): unknown."""
    uid = _UID.search(line)
    if uid:
        return int(uid.group(1))
    return 0 if " ino:" in line else None


def sockets(text: str, file: str) -> tuple[Socket, ...]:
    """Listening sockets; `*` (an IPv6 wildcard socket without IPV6_V6ONLY — iproute2 ss
    prints `*` only then) is dual-stack, `[::]` is IPv6 only."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0] in ("Netid", "State"):
            continue
        if len(words) < 5 or words[0] not in ("tcp", "udp", "sctp", "raw", "mptcp", "u_str"):
            raise ParseError(f"not an `ss -Htlnup` line: {excerpt(line)}", file, number)
        if words[0] not in ("tcp", "udp"):
            continue
        try:
            host, iface, port = _local(words[4])
        except ValueError as exc:
            raise ParseError(f"bad local address: {exc}", file, number) from None
        dual = host == "*"
        try:
            addr = ipaddress.ip_address("::" if dual else host)
        except ValueError:
            raise ParseError(f"bad local address {excerpt(words[4])}", file, number) from None
        proc = _PROCESS.search(line)
        out.append(Socket(words[0], addr, port, proc.group(1) if proc else None,
                          int(proc.group(2)) if proc else None, iface, dual, _owner(line)))
    return tuple(out)


# ---- sysctl -a --------------------------------------------------------------------------------


def sysctls(text: str, file: str) -> tuple[tuple[str, str], ...]:
    """`key = value` lines; sysctl's own complaints (`sysctl: permission denied ...`) and
    comments are skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "sysctl:")):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip() or " " in key.strip():
            raise ParseError(f"expected `key = value`, got {excerpt(stripped)}", file, number)
        out.append((key.strip(), value.strip()))
    return tuple(out)
