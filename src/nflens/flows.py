"""Reading flows (CONTRACT §3) from a JSON/YAML file and from `trace --from/--to` strings."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

from nflens.errors import FlowError, ParseError
from nflens.ir.packet import Endpoint, Flow

PROTOS = ("tcp", "udp", "icmp", "icmpv6", "sctp")


def load_flows(path: str | Path) -> list[Flow]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FlowError(f"{path}: cannot read: {exc.strerror}") from exc
    data = _decode(text, str(path))
    if not isinstance(data, dict) or not isinstance(data.get("flows"), list):
        raise ParseError('expected an object with a "flows" list', str(path), 1)
    flows = []
    for i, item in enumerate(data["flows"]):
        where = f"{path}: flow #{i + 1}"
        try:
            flows.append(flow_from_dict(item, where))
        except ParseError:
            # the line is only for the message: finding it scans the text (per flow, that was
            # quadratic: 6 s of `check` for 4,800 flows), so only a bad flow pays for it
            flow_from_dict(item, where, _line_of(text, item, i))
            raise
    return flows


def _decode(text: str, file: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith(("{", "[")):
            raise ParseError(exc.msg, file, exc.lineno) from exc
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(str(getattr(exc, "problem", exc)), file,
                         mark.line + 1 if mark else None) from exc


def _line_of(text: str, item: Any, index: int) -> int | None:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        needle = json.dumps(item["name"])
        for n, line in enumerate(text.splitlines(), 1):
            if needle in line or f"name: {item['name']}" in line:
                return n
    return None


def flow_from_dict(item: Any, where: str, line: int | None = None) -> Flow:
    def fail(msg: str):
        file, _, rest = where.partition(": ")
        raise ParseError(f"{rest}: {msg}" if rest else msg, file, line)

    if not isinstance(item, dict):
        fail("a flow must be an object")
    src, dst = item.get("from"), item.get("to")
    if not isinstance(src, dict) or not isinstance(dst, dict):
        fail('a flow needs "from" and "to" objects')
    try:
        origin = _origin(src)
        addr = ipaddress.ip_address(str(dst.get("addr")))
    except (ValueError, FlowError) as exc:
        fail(str(exc))
    proto = str(dst.get("proto", "tcp")).lower()
    if proto not in PROTOS:
        fail(f"unknown protocol {proto!r} (one of {', '.join(PROTOS)})")
    port = dst.get("port")
    if proto in ("tcp", "udp", "sctp") and not (isinstance(port, int) and 0 < port < 65536):
        fail(f"port must be a number from 1 to 65535, not {port!r}")
    expect = item.get("expect")
    if expect not in (None, "allow", "deny"):
        fail(f'expect must be "allow" or "deny", not {expect!r}')
    name = str(item.get("name") or f"{origin.describe()}->{addr}:{port}/{proto}")
    sport = src.get("sport")
    return Flow(name, origin, addr, port, proto, sport=sport, expect=expect)


def _origin(src: dict) -> Endpoint:
    if src.get("container"):
        return Endpoint(container=str(src["container"]))
    if src.get("host"):
        return Endpoint(host=True)
    if src.get("iface") and src.get("src"):
        return Endpoint(iface=str(src["iface"]), src=ipaddress.ip_address(str(src["src"])))
    raise FlowError('"from" needs {"iface", "src"}, {"container"} or {"host": true}')


_TO = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>[^:/\[\]]+)):(?P<port>\d+)/(?P<proto>\w+)$")


def parse_from(text: str) -> Endpoint:
    """`IFACE:ADDR`, `container:NAME` or `host` (CONTRACT §4 trace)."""
    if text == "host":
        return Endpoint(host=True)
    head, sep, rest = text.partition(":")
    if not sep or not rest:
        raise FlowError(f"--from {text!r}: expected IFACE:ADDR, container:NAME or host")
    if head == "container":
        return Endpoint(container=rest)
    try:
        return Endpoint(iface=head, src=ipaddress.ip_address(rest.strip("[]")))
    except ValueError as exc:
        raise FlowError(f"--from {text!r}: {exc}") from exc


def parse_to(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int, str]:
    """`ADDR:PORT/PROTO` or `[ADDR]:PORT/PROTO`."""
    m = _TO.match(text)
    if not m:
        raise FlowError(f"--to {text!r}: expected ADDR:PORT/PROTO, e.g. 10.99.0.1:8080/tcp")
    try:
        addr = ipaddress.ip_address(m.group("v6") or m.group("v4"))
    except ValueError as exc:
        raise FlowError(f"--to {text!r}: {exc}") from exc
    proto = m.group("proto").lower()
    if proto not in PROTOS:
        raise FlowError(f"--to {text!r}: unknown protocol {proto!r}")
    port = int(m.group("port"))
    if not 0 < port < 65536:
        raise FlowError(f"--to {text!r}: port out of range")
    return addr, port, proto
