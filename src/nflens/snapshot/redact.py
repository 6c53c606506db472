"""Redact a snapshot so a user can attach it to a bug report: everything that identifies the
host and that the analysis does not need is removed or replaced, and the report says what.

Every globally routable address (IPv4 and IPv6) is replaced, in every file, by a stand-in
from a range that is never global — 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8:ffff::/48
(RFC 3849 documentation) — the same stand-in for the same address everywhere, so routes, rules,
sockets and Docker state still line up. Kept as they are: private (RFC 1918, ULA), loopback,
link-local, documentation, shared (100.64/10), multicast and unspecified addresses, and the
subnets of Docker networks (they decide which rules apply). Prefix lengths stay as written.

Also (issue 29.3):
- containers keep only the fields `snapshot collect` writes (collect.CONTAINER_FIELDS): a
  snapshot made before holds `docker inspect` whole, with `Config.Env` (passwords), Cmd and
  mounts; labels are kept;
- the hostname (sysctl kernel.hostname, docker info Name) becomes `redacted-host`; docker info's
  daemon ID, proxy settings and swarm node are dropped;
- MAC addresses and Docker IDs get consistent stand-ins (pseudonyms.py), so bridges, endpoints
  and MAC matches still line up.
An audit of the copy is the audit of the original with these names changed (tested).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens.errors import SnapshotError
from nflens.snapshot import safefile
from nflens.snapshot.collect import container_fields
from nflens.snapshot.pseudonyms import Pseudonyms

_V4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w])")
_V6 = re.compile(r"(?<![\w:])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:])")
V4_POOL = ipaddress.ip_network("198.18.0.0/15")
V6_POOL = ipaddress.ip_network("2001:db8:ffff::/48")
HOSTNAME = "redacted-host"
# docker info fields that identify the host or its network and that nothing reads
INFO_DROPPED = ("ID", "HttpProxy", "HttpsProxy", "NoProxy")
_SYSCTL_HOST = re.compile(r"^(kernel\.(?:hostname|domainname)\s*=\s*)(.*)$", re.MULTILINE)


@dataclass
class Redaction:
    """What `redact` changed: the stand-ins (real -> stand-in; the user keeps them to read
    answers about the copy) and what it removed."""

    addresses: dict[str, str] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None
    env_values: int = 0  # environment variables removed, over all containers
    env_containers: int = 0
    dropped: list[str] = field(default_factory=list)  # other fields removed, by name


class Redactor:
    """One consistent mapping from real public addresses to stand-ins."""

    def __init__(self, keep: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
                 names: Pseudonyms | None = None):
        self.keep = keep
        self.names = names
        self.mapping: dict[str, str] = {}
        self.counters = {4: 0, 6: 0}

    def _stand_in(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        key = str(addr)
        if key not in self.mapping:
            self.counters[addr.version] += 1
            pool = V4_POOL if addr.version == 4 else V6_POOL
            self.mapping[key] = str(pool.network_address + self.counters[addr.version])
        return self.mapping[key]

    def _replace(self, match: re.Match) -> str:
        text = match.group(1)
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return match.group(0)
        if not addr.is_global or addr.is_multicast or any(addr in n for n in self.keep
                                                          if n.version == addr.version):
            if self.names is not None and isinstance(addr, ipaddress.IPv6Address):
                new = self.names.eui64(addr)  # a MAC inside a kept address
                if new != addr:
                    return match.group(0).replace(text, new.compressed)
            return match.group(0)
        return match.group(0).replace(text, self._stand_in(addr))

    def text(self, data: str) -> str:
        return _V6.sub(self._replace, _V4.sub(self._replace, data))


def _docker_subnets(src: Path) -> list:
    out = []
    try:
        for net in json.loads(safefile.read_text(src, "docker-networks.json") or "[]"):
            for cfg in (net.get("IPAM") or {}).get("Config") or ():
                if cfg.get("Subnet"):
                    out.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    except (OSError, ValueError, TypeError, AttributeError, RecursionError, SnapshotError):
        return []
    return out


def redact(src_dir: str | Path, dst_dir: str | Path) -> Redaction:
    """Copy `src_dir` to `dst_dir` redacted (see the module docstring); returns what changed."""
    src, dst = Path(src_dir), Path(dst_dir)
    if not src.is_dir():
        raise SnapshotError(f"{src}: not a snapshot directory")
    if dst.resolve() == src.resolve():
        raise SnapshotError("redact needs a different destination directory")
    files, skipped = safefile.walk(src, ".")  # regular files only: a link is not copied
    if skipped:
        name, kind = skipped[0]
        raise SnapshotError(f"{src / name}: {kind}, not a regular file: a snapshot to share "
                            "holds the files themselves (links are never followed)")
    report = Redaction()
    texts: dict[str, str] = {}
    raws: dict[str, bytes] = {}
    for name in files:
        raw = safefile.read_bytes(src, name) or b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raws[name] = raw
            continue
        try:
            texts[name] = _structured(name, text, report)
        except (RecursionError, TypeError, ValueError):  # a hostile file: patterns still apply
            texts[name] = text
    names = Pseudonyms()
    for text in texts.values():
        names.learn_ids(text)
    red = Redactor(_docker_subnets(src), names)
    for name in files:
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name in raws:
            target.write_bytes(raws[name])
        else:
            target.write_text(red.text(names.text(texts[name])), encoding="utf-8")
    report.addresses, report.macs, report.ids = dict(red.mapping), names.macs, names.ids
    return report


def _structured(name: str, text: str, report: Redaction) -> str:
    """The file with what is removed by field (not by pattern) removed: containers cut to what
    collect keeps, docker info without host identity, the hostname in sysctl.txt."""
    if name == "sysctl.txt":
        return _SYSCTL_HOST.sub(lambda m: _hostname(m, report), text)
    if name not in ("docker-containers.json", "docker-info.json"):
        return text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text  # not JSON: left to the reader to report; text patterns still apply
    if name == "docker-info.json":
        return _info(data, text, report)
    if not isinstance(data, list):
        return text
    for obj in data:
        config = obj.get("Config") if isinstance(obj, dict) else None
        env = config.get("Env") if isinstance(config, dict) else None
        if env:
            report.env_values += len(env) if isinstance(env, list) else 1
            report.env_containers += 1
        for key in _removed_keys(obj, container_fields(obj)):
            if key not in report.dropped:
                report.dropped.append(key)
    return json.dumps([container_fields(o) for o in data], indent=1) + "\n"


def _hostname(match: re.Match, report: Redaction) -> str:
    value = match.group(2).strip()
    if match.group(1).startswith("kernel.hostname") and value:
        report.hostname = value
    return match.group(1) + (HOSTNAME if value and value != "(none)" else match.group(2))


def _info(data: Any, text: str, report: Redaction) -> str:
    if not isinstance(data, dict):
        return text
    if isinstance(data.get("Name"), str):
        report.hostname = report.hostname or data["Name"]
        data["Name"] = HOSTNAME
    for key in INFO_DROPPED:
        if data.pop(key, None) is not None and f"docker info {key}" not in report.dropped:
            report.dropped.append(f"docker info {key}")
    swarm = data.get("Swarm")
    if isinstance(swarm, dict):
        for key in ("NodeID", "NodeAddr", "RemoteManagers"):
            swarm.pop(key, None)
    return json.dumps(data, indent=1) + "\n"


def _removed_keys(obj: Any, kept: Any, prefix: str = "") -> list[str]:
    """The dotted names of what `kept` leaves out of `obj` (Config.Env, Mounts ...)."""
    if not isinstance(obj, dict):
        return []
    out = []
    for key, value in obj.items():
        if not isinstance(kept, dict) or key not in kept:
            out.append(prefix + str(key))
        elif isinstance(value, dict) and isinstance(kept[key], dict) and kept[key] != value:
            out += _removed_keys(value, kept[key], f"{prefix}{key}.")
    return out
