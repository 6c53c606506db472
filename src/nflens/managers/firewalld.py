"""firewalld's configuration and its generated nftables chains.

Facts (firewalld 1.x, nftables backend; src/firewall/core/nftables.py): everything firewalld
writes lives in its own tables (`table inet firewalld`, with `ip`/`ip6 firewalld` for NAT in
older releases), and a chain's name says what it is for:
    {filter|nat|mangle|raw}_{IN|FWD|OUT|PRE|POST}_{ZONE}[_{pre|log|deny|allow|post}]
    {table}_{hook}_policy_{POLICY}[_...]            (policies, e.g. Docker 28's docker-forwarding)
    filter_INPUT, filter_INPUT_ZONES, ...            (dispatch to the zones)
A zone's ports, services, sources and rich rules are in zones/ZONE.xml (permanent configuration
in /etc/firewalld, defaults in /usr/lib/firewalld); direct rules (direct.xml) are iptables rules
firewalld adds with the iptables tools, e.g. into DOCKER-USER.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

CHAIN = re.compile(r"^(filter|nat|mangle|raw)_(IN|FWD|OUT|PRE|POST)_(policy_)?(.+?)"
                   r"(?:_(pre|log|deny|allow|post))?$")
MAX_XML = 1 << 20


@dataclass(frozen=True)
class ZoneItem:
    """One element of a zone or policy file, in firewalld's own words."""

    file: str
    zone: str
    kind: str  # port, service, source, interface, rich rule, forward-port, masquerade
    says: str  # e.g. 'port 8080/tcp', 'rich rule: rule family="ipv4" source address=... accept'
    address: str = ""
    port: str = ""
    proto: str = ""
    line: int = 0  # of the element's start tag in the file


@dataclass(frozen=True)
class DirectRule:
    file: str
    line: int
    chain: str
    args: str  # the iptables arguments after the chain, as firewalld passes them
    ipv: str = "ipv4"


def chain_role(chain: str) -> tuple[str, str, str] | None:
    """(hook, zone or policy name, 'zone'|'policy') of a firewalld chain; None for dispatch
    chains and chains of other shapes."""
    m = CHAIN.match(chain)
    if not m or m.group(4) in ("ZONES", "ZONES_SOURCE", "POLICIES_pre", "POLICIES_post"):
        return None
    return m.group(2), m.group(4), "policy" if m.group(3) else "zone"


def _xml(text: str):
    if len(text) > MAX_XML:
        return None
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return None


def _rich(rule) -> str:
    """A <rule> element back in firewalld's rich-rule language."""
    parts = ["rule"]
    if rule.get("family"):
        parts.append(f'family="{rule.get("family")}"')
    for child in rule:
        if child.tag in ("accept", "reject", "drop", "mark"):
            parts.append(child.tag + (f' type="{child.get("type")}"' if child.get("type") else ""))
        elif child.tag in ("source", "destination"):
            neg = " NOT" if child.get("invert") == "True" else ""
            what = " ".join(f'{k}="{v}"' for k, v in child.attrib.items() if k != "invert")
            parts.append(f"{child.tag}{neg} {what}")
        elif child.tag in ("port", "service", "protocol", "forward-port", "source-port",
                           "icmp-type", "masquerade"):
            attrs = " ".join(f'{k}="{v}"' for k, v in child.attrib.items())
            parts.append(f"{child.tag} {attrs}".strip())
        elif child.tag == "log":
            parts.append("log")
    return " ".join(parts)


def zone_items(file: str, text: str) -> list[ZoneItem]:
    """Ports, services, sources, interfaces and rich rules of one zone or policy file."""
    root = _xml(text)
    if root is None:
        return []
    zone = file.rsplit("/", 1)[-1].removesuffix(".xml")
    tags = _tag_lines(text)
    out = []
    for el in root:
        line = tags.get(el.tag, []).pop(0) if tags.get(el.tag) else 0
        if el.tag == "port":
            port, proto = el.get("port", ""), el.get("protocol", "")
            out.append(ZoneItem(file, zone, "port", f"port {port}/{proto}", port=port,
                                proto=proto, line=line))
        elif el.tag == "service":
            out.append(ZoneItem(file, zone, "service", f"service {el.get('name', '?')}",
                                line=line))
        elif el.tag in ("source", "interface"):
            value = el.get("address") or el.get("name") or el.get("ipset") or "?"
            out.append(ZoneItem(file, zone, el.tag, f"{el.tag} {value}", address=value,
                                line=line))
        elif el.tag == "forward-port":
            attrs = " ".join(f"{k}={v}" for k, v in el.attrib.items())
            out.append(ZoneItem(file, zone, "forward-port", f"forward-port {attrs}",
                                port=el.get("port", ""), proto=el.get("protocol", ""),
                                line=line))
        elif el.tag == "rule":
            src = el.find("source")
            port = el.find("port")
            out.append(ZoneItem(file, zone, "rich rule", f"rich rule: {_rich(el)}",
                                address=src.get("address", "") if src is not None else "",
                                port=port.get("port", "") if port is not None else "",
                                proto=port.get("protocol", "") if port is not None else "",
                                line=line))
        elif el.tag == "masquerade":
            out.append(ZoneItem(file, zone, "masquerade", "masquerade", line=line))
    return out


def _tag_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of the start tags of the root's children, per tag, in order (ElementTree
    keeps none). Nested tags of the same name (a rich rule's <port>) are skipped by depth."""
    out: dict[str, list[int]] = {}
    depth = 0
    for n, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"<(/?)([A-Za-z][-\w]*)([^>]*?)(/?)>", line):
            closing, tag, _, selfclosing = m.groups()
            if closing:
                depth -= 1
                continue
            if depth == 1:
                out.setdefault(tag, []).append(n)
            if not selfclosing:
                depth += 1
    return out


def direct_rules(file: str, text: str) -> list[DirectRule]:
    """The <rule> and <passthrough> elements of direct.xml (line numbers from the text)."""
    root = _xml(text)
    if root is None:
        return []
    lines = text.splitlines()
    out = []
    for el in root:
        body = (el.text or "").strip()
        if el.tag == "rule":
            chain, args = el.get("chain", ""), body
        elif el.tag == "passthrough":
            m = re.match(r"-[AI]\s+(\S+)\s*(?:\d+\s+)?(.*)", body)
            if not m:
                continue
            chain, args = m.group(1), m.group(2)
        else:
            continue
        line = next((n for n, t in enumerate(lines, 1) if body and body in t), 0)
        out.append(DirectRule(file, line, chain, args, el.get("ipv", "ipv4")))
    return out
