"""ebtables' built-in match: `-p`, `-i`, `-o`, `--logical-in/out`, `-s`, `-d`.

Follows ebt_basic_match() in net/bridge/netfilter/ebtables.c:
- the ethertype compared is ETH_P_8021Q when the frame carries a (hardware-accelerated) VLAN
  tag, else the Ethernet type field; `-p LENGTH` matches 802.3 frames, whose type field is a
  length below 0x0600 (eth_proto_is_802_3 is true for real ethertypes, >= 0x0600).
- `-i`/`-o` compare the bridge port's name (ebt_dev_check: a trailing '+' is a prefix wildcard;
  with no device — `-o` before the bridge picked a port — the option does not match).
- `--logical-in/out` compare the bridge the port belongs to; when the device is not a bridge
  port (a frame the bridge itself sends) the kernel skips the test, so it matches.
- `-s`/`-d` compare the Ethernet addresses under a mask.
"""

from __future__ import annotations

from nflens.ir.rules import Opt, XtMatch
from nflens.kernel.context import MatchResult, PacketContext, Unknown, all_of
from nflens.kernel.matches.eb_util import apply, inv, mac_masked_equal

DIALECT = "eb"
NAMES = ("eb",)
ETH_P_8021Q = 0x8100
ETH_P_802_3_MIN = 0x0600


def dev_check(pattern: str, device: str | None) -> bool:
    """True when `device` matches the ebtables interface pattern (ebt_dev_check, inverted)."""
    if device is None:
        return False
    if pattern.endswith("+"):
        return device.startswith(pattern[:-1])
    return device == pattern


def _proto(opt: Opt, ctx: PacketContext) -> MatchResult:
    ethproto = ETH_P_8021Q if ctx.vlan is not None else ctx.eth_proto
    if opt.value == "length":
        return inv(opt, ethproto < ETH_P_802_3_MIN)
    return inv(opt, ethproto == opt.value)


def _dev(opt: Opt, device: str | Unknown | None) -> MatchResult:
    """-i/-o on the bridge port; a port a symbolic question leaves open decides nothing."""
    if isinstance(device, Unknown):
        return device
    return inv(opt, dev_check(opt.value, device))


def _logical(opt: Opt, port: str | Unknown | None, ctx: PacketContext) -> MatchResult:
    if isinstance(port, Unknown):  # a port left open: its bridge is not known either
        return port
    if port is None:
        return True  # no device: the kernel's `if (in && (p = br_port_get_rcu(in)))` is false
    bridge_of = getattr(ctx.env, "bridge_of", None)
    if bridge_of is None:
        return Unknown("--logical-in/out: the host model cannot tell a port's bridge")
    bridge = bridge_of(port)
    if bridge is None:
        return True  # not a bridge port: test skipped
    return inv(opt, dev_check(opt.value, bridge))


def evaluate(match: XtMatch, ctx: PacketContext) -> MatchResult:
    results: list[MatchResult] = []
    for opt in match.opts:
        if opt.name == "proto":
            results.append(_proto(opt, ctx))
        elif opt.name == "in":
            results.append(_dev(opt, ctx.iif))
        elif opt.name == "out":
            results.append(_dev(opt, ctx.oif))
        elif opt.name == "logical_in":
            results.append(_logical(opt, ctx.iif, ctx))
        elif opt.name == "logical_out":
            results.append(_logical(opt, ctx.oif, ctx))
        elif opt.name == "src":
            results.append(apply(opt, mac_masked_equal(ctx.src_mac, opt.value)))
        elif opt.name == "dst":
            results.append(apply(opt, mac_masked_equal(ctx.dst_mac, opt.value)))
        else:
            results.append(Unknown(f"ebtables option {opt.name!r} is not modelled"))
        if results[-1] is False:
            return False
    return all_of(results)
