"""Reading flows (CONTRACT §3) from a JSON/YAML file and from `trace --from/--to` strings."""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nflens import safejson, safeyaml, textfile
from nflens.errors import FlowError, ParseError
from nflens.ir.packet import Endpoint, Flow, split_zone
from nflens.literal import EXCERPT, printable

PROTOS = ("tcp", "udp", "icmp", "icmpv6", "sctp")
# The keys of CONTRACT §3, at each level. Anything else is a typo until proven otherwise:
# `protocol: udp` was traced as TCP and `expected: deny` checked nothing (issue 29.2).
TOP_KEYS = ("flows",)
FLOW_KEYS = ("name", "from", "to", "expect")
FROM_KEYS = ("iface", "src", "container", "host", "sport")
TO_KEYS = ("addr", "port", "proto")
KeyPath = tuple[str | int, ...]


def load_flows(path: str | Path) -> list[Flow]:
    path = Path(path)
    text = textfile.read_text(path)
    data = _decode(text, str(path))
    if isinstance(data, dict):
        unknown = unknown_key(data, TOP_KEYS, "")
        if unknown is not None:
            raise ParseError(unknown[1], str(path), _key_line(text, (unknown[0],)))
    if not isinstance(data, dict) or not isinstance(data.get("flows"), list):
        raise ParseError('expected an object with a "flows" list', str(path), 1)
    flows = []
    for i, item in enumerate(data["flows"]):
        flows.append(flow_from_dict(item, f"{path}: flow #{i + 1}",
                                    functools.partial(_line_in, text, item, i)))
    return flows


def unknown_key(data: dict, known: tuple[str, ...], where: str) -> tuple[Any, str] | None:
    """The first key of `data` that is not one of `known`, with the message for it: `unknown
    key 'protocol' in flow 'x' (did you mean 'proto'?)`; the closest known key (difflib),
    else the list of them."""
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return key, f"unknown key {_quoted(key)}{where} ({hint})"
    return None


def _quoted(value: Any) -> str:
    """A name from the file, escaped and cut short, in quotes."""
    text = str(value)
    return f"'{printable(text[:EXCERPT])}{'…' if len(text) > EXCERPT else ''}'"


def _decode(text: str, file: str) -> Any:
    """JSON (safejson: no NaN/Infinity, no deep nesting), else YAML."""
    if text.lstrip().startswith(("{", "[")):
        return safejson.loads(text, file, "invalid JSON")
    data = safeyaml.load(text, file)  # plain YAML, bounded: no tags, no alias bomb
    if safejson.depth_exceeds(data):
        raise ParseError(f"nested too deeply (more than {safejson.MAX_DEPTH} levels)", file, 1)
    return data


def _line_in(text: str, item: Any, index: int, keys: KeyPath = ()) -> int | None:
    """The line of `keys` inside flow #index (its key, as YAML's composer finds it), else the
    line of the flow itself."""
    if keys:
        at = _key_line(text, ("flows", index) + keys)
        if at is not None:
            return at
    return _line_of(text, item, index)


def _line_of(text: str, item: Any, index: int) -> int | None:
    """The line of flow #index: where its name is, else where the element starts."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        needle = json.dumps(item["name"])
        for n, line in enumerate(text.splitlines(), 1):
            if needle in line or f"name: {item['name']}" in line:
                return n
    if text.lstrip().startswith("{"):
        key = re.search(r'"flows"\s*:\s*', text)
        if key:
            at = safejson.element_line(text[key.end():], index)
            if at is not None:
                return text.count("\n", 0, key.end()) + at
        return None
    return _key_line(text, ("flows", index))


def _key_line(text: str, path: KeyPath) -> int | None:
    """The line of the last key (or element) of `path`, from the root of the document, as
    PyYAML's composer marks it (JSON is YAML to it); None when it cannot tell."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    line = None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value
                     if isinstance(k, yaml.ScalarNode) and k.value == str(step)]
            if not found:
                return None
            line, node = found[0][0].start_mark.line + 1, found[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) \
                and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return None
    return line


def flow_from_dict(item: Any, where: str,
                   line: int | Callable[..., int | None] | None = None) -> Flow:
    """One flow of a flows file; `line` (or a function giving it, called only on an error,
    with the path of the offending key inside the flow) is where it is, for FILE:LINE."""
    def fail(msg: str, keys: KeyPath = (), label: bool = True):
        file, _, rest = where.partition(": ")
        at = line(keys) if callable(line) else line
        raise ParseError(f"{rest}: {msg}" if rest and label else msg, file, at)

    if not isinstance(item, dict):
        fail("a flow must be an object")
    _check_keys(item, where, fail)
    src, dst = item.get("from"), item.get("to")
    if not isinstance(src, dict) or not isinstance(dst, dict):
        fail('a flow needs "from" and "to" objects')
    try:
        origin = _origin(src)
        addr, zone = split_zone(ipaddress.ip_address(str(dst.get("addr"))))
    except (ValueError, FlowError) as exc:
        fail(str(exc))
    proto = str(dst.get("proto", "tcp")).lower()
    if proto not in PROTOS:
        fail(f"unknown protocol {proto!r} (one of {', '.join(PROTOS)})")
    port = dst.get("port")
    if proto in ("tcp", "udp", "sctp") and not _is_port(port):
        fail(f"port must be a number from 1 to 65535, not {_shown(port)}")
    sport = src.get("sport")
    if sport is not None and not _is_port(sport):
        fail(f"sport must be a number from 1 to 65535, not {_shown(sport)}")
    expect = item.get("expect")
    if expect not in (None, "allow", "deny"):
        fail(f'expect must be "allow" or "deny", not {expect!r}')
    name = item.get("name")
    if name is not None and not isinstance(name, (str, int)):
        fail(f"name must be a string, not {_shown(name)}")
    shown = f"{addr}%{zone}" if zone else addr
    name = str(name or f"{origin.describe()}->{shown}:{port}/{proto}")
    return Flow(name, origin, addr, port, proto, sport=sport, expect=expect, zone=zone)



def _check_keys(item: dict, where: str, fail: Callable[..., Any]) -> None:
    """Every key of the flow and of its `from` and `to` is one CONTRACT §3 names."""
    name = item.get("name")
    label = f"flow {_quoted(name)}" if isinstance(name, (str, int)) and not isinstance(
        name, bool) else where.partition(": ")[2] or "flow"
    levels: list[tuple[KeyPath, Any, tuple[str, ...], str]] = [
        ((), item, FLOW_KEYS, f" in {label}"),
        (("from",), item.get("from"), FROM_KEYS, f' in "from" of {label}'),
        (("to",), item.get("to"), TO_KEYS, f' in "to" of {label}')]
    for keys, data, known, text in levels:
        if isinstance(data, dict):
            unknown = unknown_key(data, known, text)
            if unknown is not None:
                fail(unknown[1], keys + (unknown[0],), label=False)


def _is_port(value: Any) -> bool:
    """An int 1-65535; JSON's `true` is not port 1, `1.5` and "80" are not ports."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _shown(value: Any) -> str:
    """The wrong value as the file spells it (JSON), escaped and cut short."""
    text = json.dumps(value, default=str)
    return printable(text[:EXCERPT]) + ("…" if len(text) > EXCERPT else "")


def _origin(src: dict) -> Endpoint:
    if src.get("container"):
        return Endpoint(container=str(src["container"]))
    if src.get("host"):
        return Endpoint(host=True)
    if src.get("iface") and src.get("src"):
        return Endpoint(iface=str(src["iface"]), src=ipaddress.ip_address(str(src["src"])))
    raise FlowError('"from" needs {"iface", "src"}, {"container"} or {"host": true}')


_TO = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+(?:%[^\]/\s]+)?)\]|(?P<v4>[^:/\[\]]+))"
                 r"(?::(?P<port>[0-9]+))?/(?P<proto>\w+)$",
                 re.ASCII)  # ASCII: `\d` would take "٨٠" (Arabic-Indic 80) for a port
PORTLESS = ("icmp", "icmpv6")
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_from(text: str, infer: Callable[[Addr], str] | None = None) -> Endpoint:
    """`IFACE:ADDR`, `container:NAME` or `host` (CONTRACT §4 trace); a bare `ADDR` when
    `infer` names its ingress interface (from the snapshot's routes)."""
    if text == "host":
        return Endpoint(host=True)
    try:
        bare = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        bare = None
    if bare is not None:
        if infer is None:
            raise FlowError(f"--from {text!r}: which interface does it arrive on? Write "
                            f"IFACE:{text}")
        return Endpoint(iface=infer(bare), src=bare)
    head, sep, rest = text.partition(":")
    if not sep or not rest:
        raise FlowError(f"--from {text!r}: expected IFACE:ADDR, container:NAME or host")
    if head == "container":
        return Endpoint(container=rest)
    try:
        return Endpoint(iface=head, src=ipaddress.ip_address(rest.strip("[]")))
    except ValueError as exc:
        raise FlowError(f"--from {text!r}: {exc}") from exc


def parse_to(text: str, resolve: Callable[[str], Addr] | None = None
             ) -> tuple[Addr, int | None, str]:
    """`ADDR:PORT/PROTO`, `[ADDR]:PORT/PROTO` or `ADDR/icmp`; `resolve` turns a name that is
    no address (a container's) into one, or raises FlowError with a hint."""
    m = _TO.match(text)
    if not m:
        raise FlowError(f"--to {text!r}: {_to_hint(text)}")
    host_part = m.group("v6") or m.group("v4")
    try:
        addr = ipaddress.ip_address(host_part)
    except ValueError as exc:
        if resolve is None or m.group("v6"):
            raise FlowError(f"--to {text!r}: {exc}") from exc
        addr = resolve(host_part)
    proto = m.group("proto").lower()
    if proto not in PROTOS:
        raise FlowError(f"--to {text!r}: unknown protocol {proto!r}")
    if m.group("port") is None:
        if proto not in PORTLESS:
            raise FlowError(f"--to {text!r}: {proto} needs a port: ADDR:PORT/{proto}")
        return addr, None, proto
    if proto in PORTLESS:
        shown = f"[{addr}]" if addr.version == 6 else str(addr)
        raise FlowError(f"--to {text!r}: {proto} has no port: write {shown}/{proto}")
    port = int(m.group("port"))
    if not 0 < port < 65536:
        raise FlowError(f"--to {text!r}: port out of range")
    return addr, port, proto


def _to_hint(text: str) -> str:
    """What is wrong with a --to that does not parse, with the spelling that would."""
    head, _, tail = text.rpartition(":")
    if head.count(":") >= 1 and "[" not in text:
        try:
            ipaddress.IPv6Address(head)
            return f"an IPv6 address with a port is written in brackets: [{head}]:{tail}"
        except ValueError:
            pass
    return "expected ADDR:PORT/PROTO, e.g. 10.99.0.1:8080/tcp ([ADDR]:PORT/PROTO for IPv6)"


def check_origin(host: Any, origin: Endpoint, what: str) -> None:
    """An `iface` origin must be one of the snapshot's interfaces (when it lists any): a packet
    cannot arrive on an interface the host does not have; simulating it gave "deny"."""
    if origin.iface is None or not host.interfaces or host.interface(origin.iface) is not None:
        return
    known = ", ".join(i.name for i in host.interfaces)
    raise FlowError(f"{what}: unknown interface {origin.iface!r} (interfaces: {known})")
