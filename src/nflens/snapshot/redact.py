"""Redact a snapshot so a user can attach it to a bug report.

Every globally routable address (IPv4 and IPv6) is replaced, in every file, by a stand-in
from a range that is never global — 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8:ffff::/48
(RFC 3849 documentation) — the same stand-in for the same address everywhere, so routes, rules,
sockets and Docker state still line up. Kept as they are: private (RFC 1918, ULA), loopback,
link-local, documentation, shared (100.64/10), multicast and unspecified addresses, and the
subnets of Docker networks (they decide which rules apply). Prefix lengths stay as written.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

from nflens.errors import SnapshotError
from nflens.snapshot import safefile

_V4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w])")
_V6 = re.compile(r"(?<![\w:])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:])")
V4_POOL = ipaddress.ip_network("198.18.0.0/15")
V6_POOL = ipaddress.ip_network("2001:db8:ffff::/48")


class Redactor:
    """One consistent mapping from real public addresses to stand-ins."""

    def __init__(self, keep: list[ipaddress.IPv4Network | ipaddress.IPv6Network]):
        self.keep = keep
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


def redact(src_dir: str | Path, dst_dir: str | Path) -> dict[str, str]:
    """Copy `src_dir` to `dst_dir` with public addresses replaced; returns the mapping used
    (real -> stand-in), which the user keeps to read answers about the redacted copy."""
    src, dst = Path(src_dir), Path(dst_dir)
    if not src.is_dir():
        raise SnapshotError(f"{src}: not a snapshot directory")
    if dst.resolve() == src.resolve():
        raise SnapshotError("redact needs a different destination directory")
    red = Redactor(_docker_subnets(src))
    files, skipped = safefile.walk(src, ".")  # regular files only: a link is not copied
    if skipped:
        name, kind = skipped[0]
        raise SnapshotError(f"{src / name}: {kind}, not a regular file: a snapshot to share "
                            "holds the files themselves (links are never followed)")
    for name in files:
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = safefile.read_bytes(src, name) or b""
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError:
            target.write_bytes(raw)
            continue
        target.write_text(red.text(data), encoding="utf-8")
    return dict(red.mapping)
