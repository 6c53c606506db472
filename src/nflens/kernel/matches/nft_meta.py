"""nft meta expressions: packet metadata (net/netfilter/nft_meta.c, nft_meta_get_eval;
net/bridge/netfilter/nft_meta_bridge.c; nft(8) "META EXPRESSIONS").

With no input device (a locally generated packet) or no output device yet, iifname/oifname
read as the empty name and iif/oif as index 0 (nft_meta_store_ifname/ifindex): `iifname !=
"eth0"` is true in the output hook — found by differential fuzzing. The kernel breaks
(MISSING here) for the device's type and group, and for skuid without a local socket.
In the bridge family the in/out device is the bridge *port* (ctx.physin/physout) and
ibrname/obrname name the bridge (ctx.iif/oif) — nft_meta_bridge.c.
"""

from __future__ import annotations

from typing import Any

from nflens.ir.rules import NftCmp, NftExpr
from nflens.kernel.context import MatchResult, PacketContext, Unknown
from nflens.kernel.matches._nft_common import MISSING, evaluate_cmp
from nflens.kernel.matches.nft_symbols import proto_number

DIALECT = "nft"
NAMES = ("meta",)
DOMAINS = {"l4proto": "inet_proto", "protocol": "ether_type", "nfproto": "nfproto"}
PKTTYPE = {"host": "host", "broadcast": "broadcast", "multicast": "multicast",
           "otherhost": "other", "other": "other"}


def evaluate(cmp: NftCmp, ctx: PacketContext) -> MatchResult:
    return evaluate_cmp(cmp, ctx)


def domain(expr: NftExpr) -> str | None:
    return DOMAINS.get(expr.get("key"))


def _devices(ctx: PacketContext) -> tuple[str | Unknown | None, str | Unknown | None]:
    if ctx.family == "bridge":
        return ctx.physin or ctx.iif, ctx.physout or ctx.oif
    return ctx.iif, ctx.oif


def value(expr: NftExpr, ctx: PacketContext) -> Any:
    key = expr.get("key")
    iif, oif = _devices(ctx)
    if key in ("iifname", "iif", "oifname", "oif"):
        dev = iif if key.startswith("i") else oif
        return "" if dev is None else dev  # no device: the empty name, index 0
    if key in ("iifkind", "oifkind", "iiftype", "oiftype", "iifgroup", "oifgroup"):
        return _device_info(key, iif if key.startswith("i") else oif, ctx)
    if key in ("ibrname", "obrname"):
        if ctx.family != "bridge":
            return MISSING
        bridge = ctx.iif if key == "ibrname" else ctx.oif
        return MISSING if bridge is None else bridge
    return _packet(key, ctx)


def _device_info(key: str, dev: str | Unknown | None, ctx: PacketContext) -> Any:
    if dev is None:
        return MISSING
    if isinstance(dev, Unknown):  # a device a symbolic question leaves open
        return dev
    if key.endswith("group"):
        return ctx.env.interface_group(dev)
    kind = ctx.env.interface_kind(dev)
    if key.endswith("type"):  # ARPHRD_* names: lo is "loopback", the rest Ethernet-like
        return "loopback" if kind == "loopback" or dev == "lo" else "ether"
    return Unknown(f"kind of interface {dev} is not known") if kind is None else kind


def _packet(key: str, ctx: PacketContext) -> Any:
    pkt = ctx.pkt
    if key == "mark":
        return ctx.mark
    if key == "nfproto":
        fam = {"ip": 2, "ip6": 10}.get(ctx.family)
        if fam is None:  # inet/bridge/netdev: the packet's own family
            fam = {0x0800: 2, 0x86DD: 10}.get(ctx.eth_proto, 0)
        return fam
    if key == "protocol":
        return ctx.eth_proto
    if key == "pkttype":
        return PKTTYPE.get(ctx.pkttype, ctx.pkttype)
    if key in ("skuid", "skgid"):
        if ctx.owner_unknown is not None:
            return Unknown(ctx.owner_unknown)
        owner = ctx.uid if key == "skuid" else ctx.gid
        return MISSING if owner is None else owner
    if pkt is None:
        return MISSING
    if key == "l4proto":
        number = proto_number(pkt.proto)
        return Unknown(f"protocol {pkt.proto}") if number is None else number
    if key == "length":
        return pkt.length
    return Unknown(f"meta {key} is not modelled")
