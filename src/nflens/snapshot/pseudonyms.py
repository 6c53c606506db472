"""Consistent stand-ins for what identifies a host but the analysis only compares: MAC addresses
and Docker's object IDs (issue 29.3, for `snapshot redact`).

The analysis never reads a MAC's or an ID's value, only whether two are the same: ebtables
and nft match a MAC against an interface's, a container's endpoint names its network by ID, and
a bridge is `br-` + the first 12 characters of its network's ID (moby bridge driver). So each
is replaced, in every file, by one stand-in, and:

- a unicast MAC becomes 02:00:00:xx:xx:xx (locally administered, a counter); broadcast, zero
  and multicast MACs (01:00:5e:…, 33:33:… derive from multicast addresses, which are kept)
  stay. The spelling stays: `2:42:ac:11:0:2` (ebtables, ether_ntoa, no leading zeros) becomes
  `2:0:0:0:0:1`, upper case stays upper case;
- an IPv6 address kept as it is (link-local, ULA) whose interface identifier is a modified
  EUI-64 (RFC 4291 2.5.1: the MAC with ff:fe in the middle and the U/L bit flipped) gets the
  identifier of the MAC's stand-in, so `fe80::42:acff:fe11:2` no longer gives the MAC away and
  still belongs to the same interface;
- a 64-hex ID becomes `{n:012x}` repeated to 64 characters, and every 12-hex short form of a
  replaced ID (bridge names, aliases) the same 12 characters of its stand-in.
"""

from __future__ import annotations

import ipaddress
import re

_MAC = re.compile(r"(?<![0-9A-Fa-f:])([0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5})(?![0-9A-Fa-f:])")
_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_SHORT = re.compile(r"(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")


class Pseudonyms:
    """One mapping per snapshot: real MAC/ID -> stand-in (the user keeps it to read answers)."""

    def __init__(self) -> None:
        self.macs: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self._short: dict[str, str] = {}

    def mac(self, value: bytes) -> bytes:
        """The stand-in of a MAC (6 bytes); broadcast, zero and multicast MACs are kept."""
        if value[0] & 1 or value == bytes(6):
            return value
        key = value.hex(":")
        if key not in self.macs:
            n = len(self.macs) + 1
            self.macs[key] = bytes([2, 0, 0, n >> 16 & 255, n >> 8 & 255, n & 255]).hex(":")
        return bytes.fromhex(self.macs[key].replace(":", ""))

    def _mac_text(self, match: re.Match) -> str:
        text = match.group(1)
        parts = text.split(":")
        new = self.mac(bytes(int(p, 16) for p in parts))
        if new == bytes(int(p, 16) for p in parts):
            return text
        short = any(len(p) == 1 for p in parts)
        out = ":".join(f"{b:x}" if short else f"{b:02x}" for b in new)
        return out.upper() if text.isupper() else out

    def eui64(self, addr: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
        """`addr` with a modified-EUI-64 interface identifier made that of the MAC's stand-in."""
        raw = addr.packed
        iid = raw[8:]
        if iid[3:5] != b"\xff\xfe":
            return addr
        mac = bytes([iid[0] ^ 2]) + iid[1:3] + iid[5:]
        new = self.mac(mac)
        if new == mac:
            return addr
        return ipaddress.IPv6Address(raw[:8] + bytes([new[0] ^ 2]) + new[1:3] + b"\xff\xfe"
                                     + new[3:])

    def _id_text(self, match: re.Match) -> str:
        real = match.group(1)
        if real not in self.ids:
            n = len(self.ids) + 1
            self.ids[real] = (f"{n:012x}" * 6)[:64]
            self._short[real[:12]] = self.ids[real][:12]
        return self.ids[real]

    def learn_ids(self, data: str) -> None:
        """Give every 64-hex ID of `data` its stand-in now, so the short forms of IDs seen in
        one file are replaced in every other (a bridge name in iptables-save.txt)."""
        _ID.sub(self._id_text, data)

    def text(self, data: str) -> str:
        data = _MAC.sub(self._mac_text, data)
        data = _ID.sub(self._id_text, data)
        return _SHORT.sub(lambda m: self._short.get(m.group(1), m.group(1)), data)
