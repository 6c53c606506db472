"""The host's ICMP error rate limit: whether an error the kernel sends may be suppressed.

icmp_send (net/ipv4/icmp.c) asks icmpv4_global_allow and icmpv4_xrlim_allow: a type in
net.ipv4.icmp_ratemask (default 6168: dest-unreachable, source-quench, time-exceeded,
parameter-problem) is limited per destination — inet_peer_xrlim_allow, a token bucket of
net.ipv4.icmp_ratelimit (1000 ms) per error with a burst of XRLIM_BURST_FACTOR (6) — and in
all (icmp_msgs_per_sec, icmp_msgs_burst). IPv6 does the same (icmpv6_xrlim_allow,
net.ipv6.icmp.ratemask "0-1,3-127", net.ipv6.icmp.ratelimit). The buckets are state the
snapshot does not have: a flow is simulated as on a quiet host (the errors go out), as
conntrack and xt_recent are, and where an error decides the verdict the assumption is named.
Measured by the fuzzer (case 20261207-2122): a REJECT of handshake ACKs to one peer, probed
ten times in a row, refused the first three connections (two errors each: the ACK and the
FIN) and let the next seven stand (IcmpOutRateLimitHost 22).
"""

from __future__ import annotations

from nflens.kernel.hostmodel import HostModel

V4_DEFAULT_MASK = 6168
V6_DEFAULT_MASK = "0-1,3-127"


def _in_list(types: str, icmp_type: int) -> bool:
    """Membership in a bitmap list as the kernel prints it (proc_do_large_bitmap: "0-1,3")."""
    for part in types.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if lo.isdigit() and int(lo) <= icmp_type <= int(hi if hi.isdigit() else lo):
            return True
    return False


def limited(model: HostModel, family: int, icmp_type: int) -> bool:
    """Whether errors of `icmp_type` are rate-limited on this host (icmp_ratemask)."""
    if family == 4:
        raw = model.host.sysctl("net.ipv4.icmp_ratemask")
        mask = int(raw) if raw is not None and raw.strip().isdigit() else V4_DEFAULT_MASK
        return bool(mask & (1 << icmp_type))
    raw6 = model.host.sysctl("net.ipv6.icmp.ratemask")
    return _in_list(V6_DEFAULT_MASK if raw6 is None else raw6, icmp_type)


def assumption(model: HostModel, family: int, icmp_type: int, dst: object) -> str | None:
    """The named assumption for an error that decides a verdict, or None when exempt."""
    if not limited(model, family, icmp_type):
        return None
    key = "net.ipv4.icmp_ratemask" if family == 4 else "net.ipv6.icmp.ratemask"
    return (f"assumed: the ICMP error to {dst} passes the host's rate limit ({key} "
            "includes it: a burst of 6 per destination, then one per icmp_ratelimit; the "
            "snapshot cannot show the errors sent just before). Rate-limited, it is never "
            "sent and the connection stays up")
