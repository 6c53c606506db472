"""Parsers for the host part of a snapshot: `ip -j` JSON, `ss -Htlnup`, `sysctl -a`.

Pure functions from already-read text/JSON to IR objects; `read.py` does the file I/O. Each
raises ParseError naming the file (and the line for line-oriented formats) on malformed input,
so a user can fix the one file that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from nflens.errors import ParseError
from nflens.literal import excerpt
from nflens.ir.host import Address, Interface, PolicyRule, Route, Socket

# ---- ip -j -d link / ip -j addr ------------------------------------------------------------


def _need_list(data: Any, file: str) -> list[dict]:
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ParseError("expected a JSON list of objects (as `ip -j` prints)", file)
    return data


def _addresses(entry: dict, file: str) -> tuple[Address, ...]:
    out = []
    for info in entry.get("addr_info") or ():
        if info.get("family") not in ("inet", "inet6") or "local" not in info:
            continue
        try:
            iface = ipaddress.ip_interface(f"{info['local']}/{info.get('prefixlen', 32 if info['family'] == 'inet' else 128)}")
        except ValueError as exc:
            raise ParseError(f"bad address in {entry.get('ifname')!r}: {exc}", file) from None
        out.append(Address(iface, info.get("scope", "global")))
    return tuple(out)


def _kind(entry: dict) -> str:
    """linkinfo.info_kind (bridge, veth, dummy, vxlan ...), else the link type."""
    kind = (entry.get("linkinfo") or {}).get("info_kind")
    if kind:
        return kind
    return "loopback" if entry.get("link_type") == "loopback" else "ether"


def _link_fields(entry: dict) -> dict[str, Any]:
    linkinfo = entry.get("linkinfo") or {}
    kind = _kind(entry)
    fields: dict[str, Any] = {
        "kind": kind,
        "mac": (entry.get("address") or None),
        "up": "UP" in (entry.get("flags") or ()),
        "mtu": int(entry.get("mtu", 1500)),
        "master": entry.get("master"),
    }
    if kind == "veth" and entry.get("link_index") is not None:
        fields["peer_ifindex"] = int(entry["link_index"])
        if entry.get("link_netnsid") is not None:
            fields["peer_netns"] = str(entry["link_netnsid"])
    slave = linkinfo.get("info_slave_data") or {}
    if linkinfo.get("info_slave_kind") == "bridge":
        fields["hairpin"] = bool(slave.get("hairpin", False))
    data = linkinfo.get("info_data") or {}
    if kind == "bridge" and "nf_call_iptables" in data:
        # per-bridge option (ip link set BR type bridge nf_call_iptables 1); the kernel calls
        # iptables when this OR the global sysctl is set (br_netfilter_hooks.c).
        fields["bridge_nf"] = bool(data["nf_call_iptables"])
    return fields


def interfaces(links: Any | None, addrs: Any | None, link_file: str, addr_file: str
               ) -> tuple[Interface, ...]:
    """Merge `ip -j -d link` (kind, master, peers) with `ip -j addr` (addresses) by name."""
    table: dict[str, dict[str, Any]] = {}
    for entry in _need_list(links, link_file) if links is not None else ():
        name = entry.get("ifname")
        if not name:
            raise ParseError("an entry has no ifname", link_file)
        table[name] = {"name": name, "index": int(entry.get("ifindex", 0)), **_link_fields(entry)}
    for entry in _need_list(addrs, addr_file) if addrs is not None else ():
        name = entry.get("ifname")
        if not name:
            raise ParseError("an entry has no ifname", addr_file)
        row = table.setdefault(name, {"name": name, "index": int(entry.get("ifindex", 0)),
                                      **_link_fields(entry)})
        row["addresses"] = _addresses(entry, addr_file)
    _pair_local_veths(table, links or ())
    return tuple(Interface(**row) for row in table.values())


def _pair_local_veths(table: dict[str, dict[str, Any]], links: Any) -> None:
    """A veth whose peer is in the same namespace shows `link: PEER` and no link_index."""
    for entry in links:
        row = table.get(entry.get("ifname", ""))
        peer = table.get(str(entry.get("link")))
        if row and peer and row.get("kind") == "veth" and row.get("peer_ifindex") is None:
            row["peer_ifindex"] = peer["index"]


# ---- routes and rules -----------------------------------------------------------------------


def _network(text: str, version: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if text == "default":
        return ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")
    return ipaddress.ip_network(text, strict=False)


def _route_version(entry: dict, default: int) -> int:
    for key in ("dst", "gateway", "prefsrc"):
        value = entry.get(key)
        if value and value != "default":
            return 6 if ":" in value else 4
    return default


def routes(data: Any, file: str, version: int) -> list[Route]:
    """`ip -j route show table all`: every table; `default` becomes 0.0.0.0/0 or ::/0; a
    multipath route keeps its first next hop."""
    out = []
    for entry in _need_list(data, file):
        if "dst" not in entry:
            raise ParseError(f"a route has no dst: {entry}", file)
        v = _route_version(entry, version)
        nexthop = (entry.get("nexthops") or [{}])[0] if "nexthops" in entry else entry
        try:
            gateway = nexthop.get("gateway")
            out.append(Route(
                dst=_network(entry["dst"], v),
                type=entry.get("type", "unicast"),
                table=str(entry.get("table", "main")),
                dev=nexthop.get("dev", entry.get("dev")),
                gateway=ipaddress.ip_address(gateway) if gateway else None,
                prefsrc=ipaddress.ip_address(entry["prefsrc"]) if entry.get("prefsrc") else None,
                metric=int(entry.get("metric", 0)),
                scope=entry.get("scope"),
                protocol=entry.get("protocol"),
            ))
        except (ValueError, TypeError) as exc:
            raise ParseError(f"bad route {entry.get('dst')!r}: {exc}", file) from None
    return out


def _selector(entry: dict, key: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    value = entry.get(key)
    if not value or value == "all":
        return None
    length = entry.get(f"{key}len")
    return ipaddress.ip_network(f"{value}/{length}" if length is not None else value, strict=False)


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(str(value), 0)


def policy_rules(data: Any, file: str) -> tuple[PolicyRule, ...]:
    """`ip -j rule show`: selectors, fwmark[/mask] and the table or action."""
    out = []
    for entry in _need_list(data, file):
        try:
            mark, mask = entry.get("fwmark"), entry.get("fwmask")
            if isinstance(mark, str) and "/" in mark:
                mark, mask = mark.split("/", 1)
            src = _selector(entry, "src")
            out.append(PolicyRule(
                priority=int(entry.get("priority", 0)),
                table=str(entry.get("table", entry.get("target", "main"))),
                action=entry.get("action", "goto" if "target" in entry else "lookup"),
                src=src, dst=_selector(entry, "dst"),
                iif=entry.get("iif"), oif=entry.get("oif"),
                fwmark=_int(mark), fwmask=_int(mask),
                not_="not" in entry,
                family=src.version if src is not None else 4,
            ))
        except (ValueError, TypeError) as exc:
            raise ParseError(f"bad rule {entry}: {exc}", file) from None
    return tuple(out)


# ---- ss -Htlnup -------------------------------------------------------------------------------

_PROCESS = re.compile(r'\(\("([^"]*)",pid=(\d+)')


def _local(text: str) -> tuple[str, str | None, int]:
    """`0.0.0.0:8080`, `[::]:8080`, `*:8000`, `127.0.0.1%lo:53`, `[fe80::1%eth0]:22` ->
    (address text, device, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"no port in {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host, _, iface = host.partition("%")
    return host, iface or None, int(port)


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
                          int(proc.group(2)) if proc else None, iface, dual))
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
