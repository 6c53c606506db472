"""Containers on a host device at layer 2: Docker's macvlan and ipvlan networks.

A macvlan child is a second MAC on its parent (`lower`). drivers/net/macvlan.c installs
macvlan_handle_frame as the parent's rx_handler: a frame from the wire for a child's MAC (or a
broadcast) goes to the child before the parent's IP stack runs, so no host hook sees it — no
PREROUTING, INPUT, FORWARD, DOCKER-USER, no bridge family. What the parent transmits goes to
the wire (dev_queue_xmit on the real device): it never comes back up into the children, so the
host cannot reach its own macvlan containers (lab: tests/fixtures/lab/macvlan-noshim). Between
children, macvlan_queue_xmit delivers directly when both are in bridge mode (macvlan_hash_lookup
and `dest->mode == MACVLAN_MODE_BRIDGE`); vepa sends everything to the wire and relies on the
switch to reflect it (802.1Qbg hairpin); private forwards nothing between children. A macvlan
the admin adds on the host over the same parent in bridge mode (the "shim") is such a child
itself: through it the host and what it routes reach the containers, and through the host's
hooks (lab: macvlan-shim, macvlan-shim-docker-user).

ipvlan (drivers/net/ipvlan/ipvlan_core.c) is modelled from the kernel's source only — this
machine's kernel has no CONFIG_IPVLAN, so nothing of it is lab-proven: the slaves share the
parent's MAC; ipvlan_handle_frame (the parent's rx_handler) hands a packet whose destination
address is a slave's to that slave (ipvlan_addr_lookup), again before the host's hooks; between
slaves ipvlan_xmit_mode_l2/l3 deliver directly unless the port is private or vepa
(`ipvlan_flag`). The host reaching its ipvlan slaves (l2: dev_forward_skb of a slave's frame to
the master; l3: ipvlan_process_v4_outbound routes in the master's namespace with ip_local_out)
is not modelled: such a path is answered as unreachable with the reason said.
"""

from __future__ import annotations

from nflens.ir.host import Interface
from nflens.kernel.hostmodel import Attachment, HostModel, IPAddress


def kind(att: Attachment) -> str:
    """The driver that made the attachment: macvlan or ipvlan."""
    return att.network.driver if att.network is not None else "macvlan"


def child(model: HostModel, lower: str, addr: IPAddress) -> Attachment | None:
    """The container whose macvlan/ipvlan on `lower` has `addr`: it answers ARP/ND there."""
    att = model.by_addr.get(addr)
    if att is None or att.mode is None or att.lower != lower:
        return None
    return att


def is_l2_child(att: Attachment | None) -> bool:
    return att is not None and att.mode is not None


def _flag(att: Attachment) -> str:
    opts = dict(att.network.options) if att.network is not None else {}
    return opts.get("ipvlan_flag", "bridge")


def siblings(a_kind: str, a_mode: str | None, b: Attachment) -> str:
    """How a frame from a child in (a_kind, a_mode) to the child `b` on the same parent goes:
    "direct" (delivered in the driver), "wire" (out to the switch: vepa), "none" (private)."""
    if a_kind != kind(b):
        return "wire"  # a macvlan and an ipvlan on one parent meet only on the wire
    if a_kind == "ipvlan":
        flag = _flag(b)
        return {"private": "none", "vepa": "wire"}.get(flag, "direct")
    if a_mode == "bridge" and b.mode == "bridge":
        return "direct"
    if "private" in (a_mode, b.mode):
        return "none"
    return "wire"


def shim(model: HostModel, lower: str, addr: IPAddress) -> Interface | None:
    """A macvlan of the host on `lower` in bridge mode that answers ARP/ND for the host's
    address `addr`, so a child sending to `addr` reaches the host through it. With arp_ignore
    at 1 or more only an interface that has `addr` itself answers (net/ipv4/arp.c
    arp_ignore())."""
    for iface in model.host.interfaces:
        if iface.kind != "macvlan" or iface.lower != lower or iface.mode != "bridge":
            continue
        if not iface.up:
            continue
        own = any(a.ip == addr for a in iface.addresses)
        if addr.version == 4 and model.conf_max("arp_ignore", iface.name) >= 1 and not own:
            continue
        return iface
    return None


def host_child_path(model: HostModel, oif: str, att: Attachment) -> str:
    """What becomes of a packet the host sends out of `oif` to child `att`: "parent" (the
    parent's own transmission: lost to the wire), "direct" (from a shim in bridge mode),
    "wire" or "none" (from a shim the modes keep apart), "" (not towards that child)."""
    if oif == att.lower:
        return "parent"
    iface = model.host.interface(oif)
    if iface is None or iface.lower != att.lower or iface.kind not in ("macvlan", "ipvlan"):
        return ""
    return siblings(iface.kind, iface.mode, att)


__all__ = ["child", "host_child_path", "is_l2_child", "kind", "shim", "siblings"]
