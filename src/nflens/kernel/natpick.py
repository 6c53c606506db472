"""Which address of a NAT range the kernel picks: find_best_ips_proto (net/netfilter/nf_nat_core.c).

Not the lowest address and not random: a hash of the connection's addresses, the same for the
same pair "even across reboots" (the kernel's own comment). With NF_NAT_RANGE_PERSISTENT
(iptables `--persistent`, nft `persistent`) only the source address counts:

    j = jhash2(tuple->src.u3, 4 words, PERSISTENT ? 0 : tuple->dst.u3.all[max] ^ zone->id)
    for each 32-bit word i of the address (1 for IPv4, 4 for IPv6):
        minip, dist = the range's word i and its width, or 0 and ~0 once an earlier word
                      fell below the range's maximum ("full range")
        var->all[i] = htonl(minip + reciprocal_scale(j, dist))
        unless PERSISTENT: j ^= tuple->dst.u3.all[i]

`tuple` is the connection as NAT sees it (the inverse of the current reply: after a DNAT its
destination is the new one), `var` its destination for DNAT and its source for SNAT. The words
are read as stored in memory: an address's bytes in network order loaded as a little-endian
u32 (x86 and arm64 hosts; a big-endian host would hash other numbers). The conntrack zone is
assumed to be the default (0): the snapshot shows no zones. jhash2 is include/linux/jhash.h's.
The lab proves the pick on this kernel (tests/lab/test_lab_netfilter_decisions.py).
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_M = 0xFFFFFFFF
JHASH_INITVAL = 0xDEADBEEF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _M; a ^= _rol(c, 4); c = (c + b) & _M  # noqa: E702
    b = (b - a) & _M; b ^= _rol(a, 6); a = (a + c) & _M  # noqa: E702
    c = (c - b) & _M; c ^= _rol(b, 8); b = (b + a) & _M  # noqa: E702
    a = (a - c) & _M; a ^= _rol(c, 16); c = (c + b) & _M  # noqa: E702
    b = (b - a) & _M; b ^= _rol(a, 19); a = (a + c) & _M  # noqa: E702
    c = (c - b) & _M; c ^= _rol(b, 4); b = (b + a) & _M  # noqa: E702
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c ^= b; c = (c - _rol(b, 14)) & _M  # noqa: E702
    a ^= c; a = (a - _rol(c, 11)) & _M  # noqa: E702
    b ^= a; b = (b - _rol(a, 25)) & _M  # noqa: E702
    c ^= b; c = (c - _rol(b, 16)) & _M  # noqa: E702
    a ^= c; a = (a - _rol(c, 4)) & _M  # noqa: E702
    b ^= a; b = (b - _rol(a, 14)) & _M  # noqa: E702
    c ^= b; c = (c - _rol(b, 24)) & _M  # noqa: E702
    return c


def jhash2(words: list[int], initval: int) -> int:
    """include/linux/jhash.h jhash2: a hash of 32-bit words."""
    length = len(words)
    a = b = c = (JHASH_INITVAL + (length << 2) + initval) & _M
    k = 0
    while length > 3:
        a, b, c = (a + words[k]) & _M, (b + words[k + 1]) & _M, (c + words[k + 2]) & _M
        a, b, c = _mix(a, b, c)
        length -= 3
        k += 3
    if length == 0:
        return c
    if length == 3:
        c = (c + words[k + 2]) & _M
    if length >= 2:
        b = (b + words[k + 1]) & _M
    a = (a + words[k]) & _M
    return _final(a, b, c)


def _words(addr: IPAddress) -> list[int]:
    """union nf_inet_addr as four u32 loaded little-endian (an IPv4 address: one, then zeros)."""
    raw = addr.packed.ljust(16, b"\0")
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 16, 4)]


def _be_words(addr: IPAddress) -> list[int]:
    raw = addr.packed
    return [int.from_bytes(raw[i:i + 4], "big") for i in range(0, len(raw), 4)]


def pick(lo: IPAddress, hi: IPAddress, src: IPAddress, dst: IPAddress, manip: str,
         persistent: bool = False, zone: int = 0) -> IPAddress:
    """The address find_best_ips_proto chooses in [lo, hi] for the tuple (src, dst)."""
    if lo == hi:
        return lo
    src_w, dst_w = _words(src), _words(dst)
    last = 0 if lo.version == 4 else 3
    j = jhash2(src_w, 0 if persistent else (dst_w[last] ^ zone) & _M)
    var = list(dst_w if manip == "dst" else src_w)  # the tuple's words being rewritten
    lo_w, hi_w = _be_words(lo), _be_words(hi)
    full = False
    for i in range(last + 1):
        minip, dist = (0, _M) if full else (lo_w[i], (hi_w[i] - lo_w[i] + 1) & _M)
        value = (minip + ((j * dist) >> 32)) & _M  # reciprocal_scale
        var[i] = int.from_bytes(value.to_bytes(4, "big"), "little")
        if value != hi_w[i]:
            full = True
        if not persistent:
            # tuple->dst.u3.all[i]: for DNAT that is the word just written
            j ^= var[i] if manip == "dst" else dst_w[i]
    raw = b"".join(w.to_bytes(4, "little") for w in var[:last + 1])
    return ipaddress.ip_address(raw)
