"""The hook machinery of a packet's journey: at each IP hook the base chains, the conntrack
lookup and the NAT point in the kernel's order (Pipeline.events), NAT bindings, the trace steps.
The journeys themselves (routing, bridges, ARP, loopback, delivery) are kernel/journey.py's
Journey, a Walker; it follows these paths (net/ipv4/ip_input.c, ip_forward.c, ip_output.c,
net/bridge/br_input.c, br_forward.c, net/bridge/br_netfilter_hooks.c):
- received: PREROUTING -> route -> INPUT -> socket | FORWARD -> POSTROUTING -> transmit
- local:    route -> OUTPUT (reroute after DNAT) -> POSTROUTING -> transmit
- transmit: lo loops back into PREROUTING keeping its conntrack entry; a bridge hands the frame
  to the port of the neighbour (after ARP) through bridge OUTPUT/POSTROUTING; any other device
  leaves the host.
- bridged (port to port): bridge PREROUTING, br_netfilter's IP PREROUTING, bridge FORWARD, IP
  FORWARD, bridge/IP POSTROUTING — the IP hooks only when net.bridge.bridge-nf-call-iptables=1.
- into the host from a port: bridge PREROUTING, IP PREROUTING (br_netfilter or ip_rcv), bridge
  INPUT, then the routed path with the bridge as input device.
"""

from __future__ import annotations

import ipaddress

from nflens.ir.packet import Packet
from nflens.ir.rules import Action
from nflens.kernel import conntrack as ctmod
from nflens.kernel import nat as natmod
from nflens.kernel.chain import ChainResult, ChainWalker, Oracle, RuleRef
from nflens.kernel.context import PacketContext
from nflens.kernel.hostmodel import HostModel
from nflens.kernel.matches.xt_recent import RecentLists
from nflens.kernel.pipeline import (
    CONNTRACK,
    NAT_MANIP,
    BaseChain,
    Pipeline,
)
from nflens.kernel.skb import Delivery, Skb
from nflens.kernel.trace import ConntrackStep, HookStep, NatStep, Step

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK4 = ipaddress.ip_network("127.0.0.0/8")
ZERONET4 = ipaddress.ip_network("0.0.0.0/8")
LIMITED_BCAST4 = ipaddress.ip_address("255.255.255.255")
OWNER_UNKNOWN = ("the owner of the host's sending socket is not in the snapshot (a flow from "
                 "the host names no user; ss.txt without -e shows no uid)")


def describe_packet(skb: Skb) -> str:
    """The packet as every trace step shows it. The same packet is described at every hook
    it crosses and an audit simulates the same few thousand packets again and again, so the
    texts are remembered (a packet is frozen and hashable; the memo is bounded)."""
    p = skb.pkt
    text = _DESCRIBED.get(p)
    if text is None:
        if len(_DESCRIBED) >= 8192:
            _DESCRIBED.clear()
        flags = "" if p.proto != "tcp" else " [" + ",".join(sorted(p.tcp_flags)) + "]"
        text = _DESCRIBED[p] = f"{p.proto} {ctmod.tuple_of(p)}{flags}"
    return text


_DESCRIBED: dict[Packet, str] = {}


class Walker:
    """Moves packets through the host model, appending steps to `trace`."""

    def __init__(self, model: HostModel, pipeline: Pipeline, ct: ctmod.Conntrack,
                 oracle: Oracle, trace: list[Step], unmodelled: list[str]):
        self.model = model
        self.pipeline = pipeline
        self.ct = ct
        self.oracle = oracle
        self.trace = trace
        self.unmodelled = unmodelled
        self.assumed: list[str] = []  # what this journey assumed (shown with the verdict)
        self.recent = RecentLists(self.assumed)  # -m recent's lists, fresh for each flow
        self.phase = ""

    # --- hooks ---------------------------------------------------------------------------
    def ip_hook(self, skb: Skb, hook: str, iif: str | None = None, oif: str | None = None,
                physin: str | None = None, physout: str | None = None,
                bridged: bool = False) -> Delivery | None:
        """Run every base chain of `hook`; None when the packet survives, else how it ended."""
        version = skb.pkt.family
        nat_chains = self.pipeline.nat_chains(version, hook)
        for _prio, _kind, ev in self.pipeline.events(version, hook):
            if ev == CONNTRACK:
                self._conntrack_in(skb, iif)
                continue
            if isinstance(ev, BaseChain):
                mark = skb.mark
                end = self._run_chain(skb, ev, hook, iif, oif, physin, physout, bridged)
                if end or skb.mark != mark:
                    self._equal_order_assumed(version, hook, ev, end is not None)
            else:  # NAT, the only other pseudo-hook
                end = self._nat_point(skb, hook, nat_chains, iif, oif, physin, physout, bridged)
            if end:
                return end
        if hook in ("postrouting", "input") and skb.entry is not None:
            skb.entry.status.add("CONFIRMED")
        return None

    def _equal_order_assumed(self, key: int, hook: str, base: BaseChain, ended: bool) -> None:
        """`base` ended the hook or changed the mark, and chains of other tables share its
        priority: which of them ran first (the newest registered, nf_hook_entries_grow) is
        taken from nft.json's table order, which the snapshot cannot confirm. It can decide
        the deciding rule (which chain dropped first) or, through the mark, the verdict."""
        peers = self.pipeline.equal_peers(key, hook, base)
        if not peers:
            return
        names = ", ".join(f"{b.table.family} {b.table.name}/{b.chain.name}" for b in peers)
        what = "ended the packet" if ended else "changed the mark"
        note = (f"assumed: at {hook} priority {base.priority}, {base.table.family} "
                f"{base.table.name}/{base.chain.name} ({what}) runs in the order of nft.json's "
                f"tables against {names}: the newer table's chain first; a chain added to the "
                "older table later would run first instead (the snapshot does not show when "
                "chains were registered)")
        if note not in self.assumed:
            self.assumed.append(note)

    def _ctx(self, skb: Skb, family: str, hook: str, iif: str | None, oif: str | None,
             physin: str | None, physout: str | None, bridged: bool,
             table: str = "") -> PacketContext:
        ct = ctmod.view(skb.entry, skb.ctdir, skb.untracked, skb.related) \
            if (skb.entry or skb.untracked) else None
        return PacketContext(
            pkt=skb.pkt, family=family, hook=hook, env=self.model, iif=iif, oif=oif,
            physin=physin, physout=physout, bridged=bridged, ct=ct,
            eth_proto=0x0800 if skb.pkt.family == 4 else 0x86DD, mark=skb.mark,
            # the sending socket's owner (ss -e); its group stays root's (ss shows no gid)
            uid=(skb.uid or 0) if skb.local_origin else None,
            gid=0 if skb.local_origin else None,
            owner_unknown=OWNER_UNKNOWN if skb.local_origin and skb.uid is None else None,
            # the table last: ChainWalker.run then finds it there and copies no context
            extra=(("recent", self.recent), ("table", table)))

    def walk(self, base: BaseChain, hook: str, ctx: PacketContext,
             direction: str) -> ChainResult:
        """Run one base chain; its HookStep goes before the rule steps it produced."""
        walker = ChainWalker(base.table, self.oracle, self.trace, direction, self.phase,
                             self.pipeline.indexes)
        start = len(self.trace)
        res = walker.run(base.chain, ctx)
        self.trace.insert(start, HookStep(
            direction, self.phase, base.table.family, hook, base.table.name, base.chain.name,
            base.priority, base.table.origin, res.verdict))
        self.unmodelled.extend(res.unmodelled)
        return res

    def _run_chain(self, skb: Skb, base: BaseChain, hook: str, iif: str | None,
                   oif: str | None, physin: str | None, physout: str | None,
                   bridged: bool) -> Delivery | None:
        ctx = self._ctx(skb, base.table.family, hook, iif, oif, physin, physout, bridged,
                        base.table.name)
        before = (skb.mark, skb.pkt.src, skb.pkt.dst, skb.pkt.tos)
        res = self.walk(base, hook, ctx, skb.direction)
        skb.mark = res.ctx.mark
        if res.tproxy is not None:
            skb.sk, skb.sk_at = res.tproxy, (skb.pkt.dst, skb.pkt.dport)
            self.assumed.extend(a for a in res.assumed if a not in self.assumed)
        if (hook == "output" and base.chain.type == "route"
                and before != (skb.mark, skb.pkt.src, skb.pkt.dst, skb.pkt.tos)):
            # ipt_mangle_out / nft_chain_route: a changed mark, address or tos re-routes
            skb.reroute = True
        if res.ct_mark is not None and skb.entry is not None:
            skb.entry.mark = res.ct_mark
        if res.notrack and skb.entry is None:
            skb.untracked = True
        if res.verdict in ("drop", "queue"):
            policy = None if res.by else (base.table.family, base.table.name, base.chain.name,
                                          base.chain.policy or "drop")
            return Delivery("dropped", f"dropped in {base.table.name} {base.chain.name}",
                            skb, res.by, policy)
        if res.verdict == "reject":
            return Delivery("rejected", f"rejected ({res.reject_with})", skb, res.by)
        return None

    def _conntrack_in(self, skb: Skb, iif: str | None) -> None:
        if skb.untracked:
            self.trace.append(ConntrackStep(skb.direction, self.phase, "UNTRACKED", "", "",
                                            "NOTRACK in raw: conntrack skipped"))
            return
        if skb.related and skb.entry is not None:  # simulate sets related only with the entry
            self.trace.append(ConntrackStep(skb.direction, self.phase, "RELATED", skb.ctdir,
                                            skb.entry.describe(), "an ICMP error about it"))
            return
        if skb.entry is not None and iif == "lo":
            self.trace.append(ConntrackStep(skb.direction, self.phase, "kept", skb.ctdir,
                                            skb.entry.describe(), "looped back: entry kept"))
            return
        found = self.ct.lookup(skb.pkt)
        if found:
            skb.entry, skb.ctdir = found
            if skb.ctdir == "REPLY":
                skb.entry.status.add("SEEN_REPLY")
            note = "existing entry"
        elif not ctmod.can_start(skb.pkt):
            skb.entry = None
            self.trace.append(ConntrackStep(skb.direction, self.phase, "INVALID", "", "",
                                            ctmod.CANNOT_START))
            return
        else:
            skb.entry, skb.ctdir = self.ct.create(skb.pkt), "ORIGINAL"
            note = "new entry"
        entry = skb.entry
        state = ctmod.state_of(entry, skb.ctdir)
        self.trace.append(ConntrackStep(skb.direction, self.phase, state, skb.ctdir,
                                        entry.describe(), note))

    def _nat_point(self, skb: Skb, hook: str, nat_chains: list[BaseChain], iif: str | None,
                   oif: str | None, physin: str | None, physout: str | None,
                   bridged: bool) -> Delivery | None:
        entry = skb.entry
        if entry is None or skb.untracked or skb.related:
            return None
        manip = NAT_MANIP[hook]
        if manip not in entry.nat_done and skb.ctdir == "ORIGINAL":
            for base in nat_chains:
                ctx = self._ctx(skb, base.table.family, hook, iif, oif, physin, physout, bridged,
                                base.table.name)
                res = self.walk(base, hook, ctx, skb.direction)
                if res.verdict in ("drop", "reject", "queue"):
                    return Delivery("dropped", f"dropped in nat {base.chain.name}", skb, res.by)
                if res.nat is not None and self._bind(skb, res.nat, res.nat_by, hook, iif, oif):
                    break
            entry.nat_done.add(manip)  # a null binding when nothing matched
        rewritten = ctmod.apply_manip(skb.pkt, entry, skb.ctdir, manip)
        if rewritten is skb.pkt:
            return None
        before = describe_packet(skb)
        skb.pkt = rewritten
        after = describe_packet(skb)
        if before != after:
            self.trace.append(NatStep(skb.direction, self.phase, f"{manip.upper()}NAT"
                                      if manip == "src" else "DNAT", before, after,
                                      "conntrack" if skb.ctdir == "REPLY" or
                                      skb.direction == "reply" else "rule"))
        return None

    def _bind(self, skb: Skb, action: Action, ref: RuleRef | None, hook: str,
              iif: str | None, oif: str | None) -> bool:
        # MASQUERADE's address is chosen for the route's next hop, not the destination:
        # nf_nat_masquerade_ipv4 calls inet_select_addr(out, rt_nexthop(rt, daddr), universe)
        # (two subnets on one interface: the one holding the gateway). IPv6 selects for the
        # destination (nf_nat_masquerade_ipv6: ipv6_dev_get_saddr(daddr)).
        toward = skb.nexthop if skb.pkt.family == 4 and skb.nexthop is not None else skb.pkt.dst
        oif_addr = self._primary_addr(oif, skb.pkt.family, toward)
        iif_addr = (ipaddress.ip_address("127.0.0.1" if skb.pkt.family == 4 else "::1")
                    if hook == "output" else self._primary_addr(iif, skb.pkt.family, None))
        assert skb.entry is not None  # _nat_point binds only a tracked packet's entry
        bound = natmod.bind(skb.entry, action, hook, oif_addr=oif_addr, iif_addr=iif_addr)
        return bound is not None

    def _primary_addr(self, iface: str | None, version: int,
                      dst: IPAddress | None) -> IPAddress | None:
        if iface is None:
            return None
        i = self.model.host.interface(iface)
        if i is None:
            return None
        for a in i.addresses:
            if a.ip.version == version and a.scope != "link" and (dst is None or dst in a.network):
                return a.ip
        for a in i.addresses:
            if a.ip.version == version and a.scope != "link":
                return a.ip
        return None
