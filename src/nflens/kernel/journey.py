"""Journeys built from hooks: received, forwarded, local out, transmit, bridge, ARP, delivery.

See `kernel.path` for the hook machinery and the kernel paths this follows.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

from nflens.ir.host import Socket
from nflens.ir.packet import Packet
from nflens.kernel import lowerdev
from nflens.kernel.chain import RuleRef
from nflens.kernel.context import ArpInfo, PacketContext
from nflens.kernel.hostmodel import Attachment, HostModel
from nflens.kernel.matches.nft_symbols import proto_number
from nflens.kernel.path import (
    LIMITED_BCAST4,
    LOOPBACK4,
    ZERONET4,
    IPAddress,
    Walker,
    describe_packet,
)
from nflens.kernel.routing import NO_KEYS, Decide, FlowKeys, RouteResult
from nflens.kernel.skb import Delivery, Skb
from nflens.kernel.trace import ArpStep, BridgeStep, EndpointStep, PacketStep, RouteStep

# Where a connection ends, said one way in trace, check and audit (issue 29.12): what the
# snapshot shows is "known: <the file>", what it cannot show is "assumed: <why>". A host socket
# is in ss.txt; a published container port is in docker inspect, but what listens inside the
# container is not (ss runs in the host's namespace), nor is anything about a peer off the host.
KNOWN_SOCKET = "known: a listening socket in ss.txt"
KNOWN_PUBLISHED = ("known: Docker publishes or exposes this port, in docker inspect; "
                   "assumed: something listens on it inside the container")
ASSUMED_CONTAINER = ("assumed: not published, and the snapshot cannot see what listens inside "
                     "the container")
ASSUMED_PEER = "assumed: a peer outside the host answers, which the snapshot cannot show"


class Journey(Walker):
    """A Walker that knows the paths between interfaces, bridges, containers and sockets.

    `client` is the connection as its opener sent it (src, sport, dst, dport): an answer is
    only an answer when it arrives as the mirror of that tuple. A reply that conntrack did not
    un-NAT (an untracked original, a reply re-NATed as a new connection) reaches a socket that
    drops it — found by differential fuzzing.
    """

    client: tuple[IPAddress, int | None, IPAddress, int | None] | None = None
    client_at: Where | None = None

    def reached_client(self, skb: Skb, detail: str, **where: Any) -> Delivery:
        pkt = skb.pkt
        if self.client is not None and skb.direction != "error":
            src, sport, dst, dport = self.client
            if (pkt.src, pkt.sport, pkt.dst, pkt.dport) != (dst, dport, src, sport):
                return Delivery("dropped", f"the answer arrives as {pkt.src}:{pkt.sport} -> "
                                f"{pkt.dst}:{pkt.dport}, not as the mirror of the connection "
                                f"{src}:{sport} -> {dst}:{dport}; the client drops it", skb)
        arrived: Where = (("iface", where["iface"]) if "iface" in where else
                   ("container", where["target"]) if "target" in where else ("host",))
        if self.client_at is not None and arrived != self.client_at:
            if not self._beyond_brings_it_back(arrived, self.client_at, pkt.dst):
                return Delivery("dropped", f"the answer goes to {_where_name(arrived)}, not "
                                f"back to the client at {_where_name(self.client_at)}", skb)
            detail += f" ({pkt.dst} taken to be reachable that way)"
        return Delivery("client", detail, skb, **where)

    def _beyond_brings_it_back(self, arrived: Where, client_at: Where, dst: IPAddress) -> bool:
        """An asymmetric path (issue 25): the client's packet came in on one interface and
        the host's route to it leaves by another, which rp_filter 0 or 2 lets happen. Whether
        the answer reaches the client that way is the network beyond the host's business, which
        no snapshot shows: both outcomes are explored (the verdict is `uncertain`, naming
        it). A container or the host itself as the wrong end is certain: it drops the answer.
        So is an answer to an address on the other interface's own link (an on-link route, no
        gateway): the snapshot shows that neighbour there, and a packet from it on another
        interface is taken as spoofed, as before."""
        if len(arrived) != 2 or len(client_at) != 2 or arrived[0] != "iface" \
                or client_at[0] != "iface" or self.model.route(dst).gateway is None:
            return False
        out, came = arrived[1], client_at[1]
        return self.oracle.decide(
            f"beyond:{out}:{came}",
            f"the network beyond the host: the answer to a client that came in on {came} "
            f"leaves by {out} (the host's route to it), and the snapshot cannot show whether "
            "it reaches the client that way")

    # --- entering the IP stack ------------------------------------------------------------
    def receive(self, skb: Skb, iif: str, physin: str | None = None) -> Delivery:
        """A packet arrives on `iif` (a bridge when it came from a bridge port `physin`)."""
        child = lowerdev.child(self.model, iif, skb.pkt.dst) if physin is None else None
        if child is not None:
            return self._to_child(skb, child, f"{iif}'s rx_handler hands it to its "
                                  f"{lowerdev.kind(child)} child: no host hook runs")
        bridged = physin is not None and self.model.bridge_nf(skb.pkt.family)
        skb.iif = iif
        self.phase = f"in {iif}" + (f" (port {physin})" if physin else "")
        self.trace.append(PacketStep(skb.direction, self.phase, describe_packet(skb), iif))
        end = self.ip_hook(skb, "prerouting", iif=iif, physin=physin if bridged else None,
                           bridged=bridged)
        if end:
            return end
        if physin is not None:
            end = self.bridge_hook(skb, "input", physin, None, self.model.bridge_of(physin))
            if end:
                return end
        return self._routed_in(skb, iif, physin if bridged else None)

    def _routed_in(self, skb: Skb, iif: str, physin: str | None) -> Delivery:
        pkt = skb.pkt
        if (pkt.family == 4 and pkt.dst in LOOPBACK4 and iif != "lo"
                and not self.model.route_localnet(iif)):
            self._route_step(skb, "martian", "127.0.0.0/8 from outside lo (route_localnet=0)")
            return Delivery("unreachable", "martian destination: 127/8 on a non-loopback device")
        res = self.lookup(skb, pkt.src, iif)
        martian = self._martian_source(skb, iif, res) if iif != "lo" else None
        if martian:
            self._route_step(skb, "martian", martian)
            return Delivery("unreachable", f"martian source {pkt.src}: {martian}", skb)
        if res.type in ("local", "broadcast"):
            self._route_step(skb, "local", res.describe())
            self.phase = "input"
            end = self.ip_hook(skb, "input", iif=iif, physin=physin, bridged=physin is not None)
            # the device a socket lookup sees (inet_iif): the input device, but for the
            # host's own packets over lo the local route's device (ip_route_output_key_hash
            # keeps it as rt_iif: "orig_oif points to fib result device"; seen in the lab)
            return end or self.local_deliver(skb, (res.oif or iif) if iif == "lo" else iif)
        if res.type != "unicast":
            self._route_step(skb, res.type, res.describe())
            return Delivery("unreachable", f"no route to {pkt.dst} ({res.type})")
        if skb.sk is not None:  # ip_forward: `if (unlikely(skb->sk)) goto drop;`
            self._route_step(skb, "forward refused", "a TPROXY socket is assigned but the "
                             "route is not local (no `ip rule fwmark ... lookup` to a local "
                             "route)")
            return Delivery("dropped", "TPROXY diverted the packet but the route is not local",
                            skb)
        if not self.model.ip_forward(pkt.family):
            self._route_step(skb, "forward refused", "ip_forward=0")
            return Delivery("unreachable", "forwarding is off (net.ipv4.ip_forward=0)")
        oif = res.oif
        self._route_step(skb, "forward", res.describe(), oif)
        self.phase = "forward"
        end = self.ip_hook(skb, "forward", iif=iif, oif=oif, physin=physin,
                           bridged=physin is not None)
        if end:
            return end
        return self._post_and_transmit(skb, iif, oif, res.gateway)

    def _post_and_transmit(self, skb: Skb, iif: str | None, oif: str | None,
                           gateway: IPAddress | None) -> Delivery:
        self.phase = "postrouting"
        skb.nexthop = gateway  # MASQUERADE picks its address for it (nf_nat_masquerade_ipv4)
        end = self.ip_hook(skb, "postrouting", iif=iif, oif=oif)
        if end:
            return end
        return self.transmit(skb, oif, gateway)

    def _martian_source(self, skb: Skb, iif: str, res: RouteResult) -> str | None:
        # the reverse lookup's iif: the forward route's output device for a forwarded
        # packet (__mkroute_input passes it as oif), loopback for local delivery (seen in
        # the lab: `ip rule ... iif rb` selects it for a packet routed out of rb, `iif lo`
        # for one delivered locally)
        back_iif = res.oif if res.type == "unicast" else None
        return martian_source(self.model, skb.pkt.src, iif, skb.pkt.dst, skb.mark,
                              flow_keys(skb.pkt, 0), self.oracle.decide, back_iif)

    def local_out(self, skb: Skb) -> Delivery:
        """A local process sends `skb` (the host origin, docker-proxy, a local reply)."""
        skb.local_origin = True
        self.phase = "output"
        self.trace.append(PacketStep(skb.direction, self.phase, describe_packet(skb),
                                     "local process"))
        oif, gw = self._out_route(skb)
        if oif is None:
            return Delivery("unreachable", f"no route to {skb.pkt.dst}")
        dst_before = skb.pkt.dst
        end = self.ip_hook(skb, "output", oif=oif)
        if end:
            return end
        if skb.pkt.dst != dst_before or skb.reroute:
            # ip_route_me_harder (net/ipv4/netfilter.c): DNAT in OUTPUT, or a route chain
            # that changed the mark or addresses, routes again — with the source, the new
            # mark and the socket's uid (sock_net_uid(net, sk))
            skb.reroute, skb.src_bound = False, True
            self.phase = "output (re-routed)"
            oif, gw = self._out_route(skb)
            if oif is None:
                return Delivery("unreachable", f"no route to {skb.pkt.dst} (re-routed)")
        return self._post_and_transmit(skb, None, oif, gw)

    def lookup(self, skb: Skb, src: IPAddress | None, iif: str | None,
               oif: str | None = None) -> RouteResult:
        """The route lookup of `skb`: input and forward with uid 0 (sock_net_uid(net, NULL)),
        local output with the sending socket's owner (and the device it is bound to, `oif`);
        unknowns go to the walk's oracle."""
        keys = flow_keys(skb.pkt, 0 if iif is not None else skb.uid)
        res = self.model.route(skb.pkt.dst, src, iif, skb.mark, keys, self.oracle.decide,
                               oif=oif)
        return self._next_hop(res)

    def _next_hop(self, res: RouteResult) -> RouteResult:
        """A multipath route: the kernel picks the next hop by a seeded hash of the flow
        (fib_select_multipath, fib_multipath_hash with a random seed unless
        fib_multipath_hash_seed is set): which one is not in the snapshot, so each is an
        explored assumption that names the route."""
        route = res.route
        if route is None or res.type != "unicast" or len(route.nexthops) < 2:
            return res
        hops = ", ".join(f"via {gw or 'link'} dev {dev}" for dev, gw in route.nexthops)
        for i, (dev, gateway) in enumerate(route.nexthops[:-1]):
            if self.oracle.decide(f"multipath {route.dst} table {res.table} hop {i}",
                                  f"the kernel's hash picks the next hop of the multipath "
                                  f"route {route.dst} table {res.table} ({hops}): via "
                                  f"{gateway or 'link'} dev {dev}?"):
                return replace(res, oif=dev, gateway=gateway)
        dev, gateway = route.nexthops[-1]
        return replace(res, oif=dev, gateway=gateway)

    def _out_route(self, skb: Skb) -> tuple[str | None, IPAddress | None]:
        """Local output's lookup carries the source (`ip rule from <host address>` applies to
        the host's own packets and replies); an unbound socket's connect() looks up first
        without it, then with the source chosen (ip_route_connect, include/net/route.h). A
        socket bound to a device (`skb.dev`) only uses that device's routes (ip6_route_output
        with flowi6_oif: every interface has its own fe80::/64)."""
        res = self.lookup(skb, skb.pkt.src if skb.src_bound else None, None, skb.dev)
        if not skb.src_bound and skb.direction == "original" and res.type in ("unicast",
                                                                              "local"):
            res = self.lookup(skb, skb.pkt.src, None, skb.dev)
        if res.type == "local":
            self._route_step(skb, "local", res.describe(), "lo")
            return "lo", None
        if res.type != "unicast" and skb.dev is not None and skb.pkt.dst.version == 4:
            # ip_route_output_key_hash_rcu (net/ipv4/route.c): a failed fib_lookup with
            # flowi4_oif set ("routing tables are wrong. Assume, that the destination is on
            # link") sends it out of that device anyway — the answers of a socket bound to a
            # device, which inet_csk_route_req and udp_sendmsg look up with that oif (fuzz:
            # blackhole and prohibit rules did not stop them)
            res = RouteResult("unicast", None, res.table, skb.dev)
        if res.type != "unicast":
            self._route_step(skb, res.type, res.describe())
            return None, None
        self._route_step(skb, "output", res.describe(), res.oif)
        return res.oif, res.gateway

    # --- leaving ------------------------------------------------------------------------
    def transmit(self, skb: Skb, oif: str | None, gateway: IPAddress | None) -> Delivery:
        """`oif` None: a unicast route without a device (the packet leaves by no known one)."""
        if oif == "lo":
            return self.receive(skb, "lo")
        if oif is not None:
            end = self._host_to_child(skb, oif, gateway or skb.pkt.dst)
            if end is not None:
                return end
        if oif is not None and self.model.is_bridge(oif):
            return self._into_bridge(skb, oif, gateway or skb.pkt.dst)
        self.trace.append(PacketStep(skb.direction, f"out {oif}", describe_packet(skb), oif))
        return self.leave(skb, oif)

    def leave(self, skb: Skb, oif: str | None) -> Delivery:
        """The packet leaves the host on `oif` towards a peer outside. A device that is up
        without carrier (NO-CARRIER: a cable out, a veth whose peer is down) keeps its routes
        (ignore_routes_with_linkdown=0, the default: fib_lookup skips RTNH_F_LINKDOWN next hops
        only when it is 1) and drops what it is handed: seen in the lab, a connection through
        it times out."""
        iface = self.model.host.interface(oif) if oif else None
        if iface is not None and not iface.carrier:
            return Delivery("dropped", f"{oif} is up but has no carrier (NO-CARRIER): the "
                            "route through it is still used and the packet is lost at the "
                            "device", skb)
        if skb.direction in ("reply", "error"):
            return self.reached_client(skb, f"reply left on {oif}", iface=oif)
        self.trace.append(EndpointStep(skb.direction, f"out {oif}", f"peer {skb.pkt.dst} via {oif}",
                                       "assumed to answer", ASSUMED_PEER))
        return Delivery("peer", f"left the host on {oif}", skb, iface=oif)

    def _into_bridge(self, skb: Skb, bridge: str, nexthop: IPAddress) -> Delivery:
        att = self.model.by_addr.get(nexthop)
        if (att is None or att.bridge != bridge) and self._behind_plain_bridge(bridge, nexthop):
            return self._to_bridge_host(skb, bridge, nexthop)
        if att is None or att.bridge != bridge:
            self.trace.append(BridgeStep(skb.direction, f"bridge {bridge}", bridge, "", "",
                                         f"no container has {nexthop}: ARP unanswered"))
            return Delivery("unreachable", f"nobody answers ARP for {nexthop} on {bridge}")
        host_ip = self._primary_addr(bridge, nexthop.version, nexthop)
        if isinstance(nexthop, IPv4Address) and not self.arp(
                bridge, att, host_ip if isinstance(host_ip, IPv4Address) else None, nexthop,
                host_asks=True, direction=skb.direction):
            return Delivery("dropped", f"ARP for {nexthop} on {bridge} was filtered", skb,
                            self._last_bridge_ref)
        self.trace.append(BridgeStep(skb.direction, f"bridge {bridge}", bridge, "", att.port,
                                     "host -> port"))
        end = self.bridge_hook(skb, "output", None, att.port, bridge)
        end = end or self.bridge_hook(skb, "postrouting", None, att.port, bridge)
        if end:
            return end
        return self.container_receive(skb, att)

    # --- hosts behind a plain bridge (issue 24 class 15) ----------------------------------
    def _behind_plain_bridge(self, bridge: str, addr: IPAddress) -> bool:
        iface = self.model.host.interface(bridge)
        return (self.model.is_plain_bridge(bridge) and iface is not None
                and any(addr in a.network and addr != a.ip for a in iface.addresses))

    def _to_bridge_host(self, skb: Skb, bridge: str, nexthop: IPAddress) -> Delivery:
        """The host sends into a plain bridge towards `nexthop`, a host that may exist there:
        the bridge family's output hooks run, and the host is assumed to answer, said so."""
        port = self.model.bridge_port(bridge)
        self.trace.append(BridgeStep(skb.direction, f"bridge {bridge}", bridge, "", port,
                                     f"host -> {nexthop} (assumed behind {port})"))
        end = self.bridge_hook(skb, "output", None, port, bridge)
        end = end or self.bridge_hook(skb, "postrouting", None, port, bridge)
        if end:
            return end
        note = (f"a host {nexthop} on the plain bridge {bridge} (port {port}) is assumed to "
                "exist and answer: the snapshot does not show who sits on a bridge Docker does "
                "not own; its ARP is not modelled")
        if note not in self.assumed:
            self.assumed.append(note)
        if skb.direction in ("reply", "error"):
            return self.reached_client(skb, f"reply left on {bridge}", iface=bridge)
        self.trace.append(EndpointStep(skb.direction, f"bridge {bridge}",
                                       f"host {nexthop} on {bridge}", "assumed",
                                       "a host on a plain bridge is assumed to answer"))
        return Delivery("peer", f"left the host on {bridge} to {nexthop}", skb, iface=bridge)

    def from_bridge_host(self, skb: Skb, bridge: str) -> Delivery:
        """A host behind plain bridge `bridge` sends: the frame enters by a bridge port, the
        bridge family's PREROUTING runs, then the host's IP stack as for a container."""
        port = self.model.bridge_port(bridge)
        end = self.bridge_hook(skb, "prerouting", port, None, bridge)
        return end or self.receive(skb, bridge, physin=port)

    # --- containers ---------------------------------------------------------------------
    def container_receive(self, skb: Skb, att: Attachment) -> Delivery:
        name = att.container.name.lstrip("/")
        pkt = skb.pkt
        if skb.direction in ("reply", "error"):
            return self.reached_client(skb, f"reply reached container {name}", target=att)
        if att.addr(pkt.family) != pkt.dst:
            return Delivery("unreachable", f"{pkt.dst} is not {name}'s address", skb)
        listening = {(p.container_port, p.proto) for p in att.container.ports}
        listening |= set(att.container.exposed)
        if (pkt.dport, pkt.proto) in listening:
            self.trace.append(EndpointStep(skb.direction, f"container {name}",
                                           f"container {name} {pkt.dst}:{pkt.dport}/{pkt.proto}",
                                           "published", KNOWN_PUBLISHED))
            return Delivery("container", f"container {name} port {pkt.dport}", skb, target=att)
        # What listens inside a container's namespace is not in the snapshot (ss runs on the
        # host): like a peer outside the host, the container is assumed to answer, and the
        # answer says so. The firewall path is what nflens decides.
        self.trace.append(EndpointStep(skb.direction, f"container {name}",
                                       f"container {name} {pkt.dst}:{pkt.dport}/{pkt.proto}",
                                       "assumed listening", ASSUMED_CONTAINER))
        note = (f"container {name} is assumed to listen on {pkt.dport}/{pkt.proto} (not "
                "published; the snapshot cannot see inside containers)")
        if note not in self.assumed:  # once per flow, not once per packet that gets there
            self.assumed.append(note)
        return Delivery("container", f"container {name} port {pkt.dport} (assumed listening)",
                        skb, target=att)

    def container_send(self, skb: Skb, att: Attachment) -> Delivery:
        """A packet leaves a container's namespace: on-link peers directly, the rest via gw,
        through the endpoint the container's own routes choose (HostModel.container_route)."""
        att = self.model.container_route(att, skb.pkt.dst)
        name = att.container.name.lstrip("/")
        self.phase = f"container {name}"
        self.trace.append(PacketStep(skb.direction, self.phase, describe_packet(skb), att.port))
        pkt = skb.pkt
        iface = att.endpoint.ipv4 if pkt.family == 4 else att.endpoint.ipv6
        gateway = att.gateway(pkt.family)
        if iface is not None and pkt.dst in iface.network:
            nexthop = pkt.dst
        elif iface is not None and gateway is not None:
            nexthop = gateway
        else:
            return Delivery("unreachable", f"{name} has no {('IPv4', 'IPv6')[pkt.family == 6]} "
                            "route")
        if att.mode is not None:
            return self._child_send(skb, att, nexthop)
        peer = self.model.by_addr.get(nexthop)
        bridge = att.bridge or ""
        if peer is att:
            return Delivery("unreachable", f"{nexthop} is {name}'s own address: the packet "
                            "stays inside the container", skb)
        if peer is None and pkt.dst in iface.network and self.model.local.get(nexthop) is None:
            self.trace.append(BridgeStep(skb.direction, f"bridge {bridge}", bridge, att.port, "",
                                         f"nobody answers ARP/ND for {nexthop} on {bridge}"))
            return Delivery("unreachable", f"{nexthop} is on {name}'s link but no container or "
                            f"host address has it", skb)
        if peer is not None and peer.bridge == att.bridge and peer is not att:
            return self._bridged(skb, att, peer)
        if isinstance(nexthop, IPv4Address) and not self.arp(
                bridge, att, att.addr(4), nexthop, host_asks=False, direction=skb.direction):
            return Delivery("dropped", f"ARP for {nexthop} from {name} was filtered", skb,
                            self._last_bridge_ref)
        end = self.bridge_hook(skb, "prerouting", att.port, None, bridge)
        if end:
            return end
        return self.receive(skb, bridge, physin=att.port)

    def _bridged(self, skb: Skb, src: Attachment, dst: Attachment) -> Delivery:
        bridge = src.bridge or ""
        br_nf = self.model.bridge_nf(skb.pkt.family)
        self.phase = f"bridge {bridge}"
        self.trace.append(BridgeStep(skb.direction, self.phase, bridge, src.port, dst.port,
                                     "port -> port" + (" (br_netfilter)" if br_nf else "")))
        if skb.pkt.family == 4 and not self._arp_between(bridge, src, dst, skb.direction):
            return Delivery("dropped", "ARP between containers was filtered", skb,
                            self._last_bridge_ref)
        end = self.bridge_hook(skb, "prerouting", src.port, None, bridge)
        if not end and br_nf:
            end = self.ip_hook(skb, "prerouting", iif=bridge, physin=src.port, bridged=True)
        end = end or self.bridge_hook(skb, "forward", src.port, dst.port, bridge)
        if not end and br_nf:
            end = self.ip_hook(skb, "forward", iif=bridge, oif=bridge, physin=src.port,
                               physout=dst.port, bridged=True)
        end = end or self.bridge_hook(skb, "postrouting", None, dst.port, bridge)
        if not end and br_nf:
            end = self.ip_hook(skb, "postrouting", iif=bridge, oif=bridge, physin=src.port,
                               physout=dst.port, bridged=True)
        return end or self.container_receive(skb, dst)

    # --- macvlan / ipvlan children (kernel/lowerdev.py) -----------------------------------
    def _to_child(self, skb: Skb, att: Attachment, how: str, came: str = "wire") -> Delivery:
        """`came`: where the frame came from (the parent's wire, a shim, a sibling)."""
        self.trace.append(BridgeStep(skb.direction, f"{lowerdev.kind(att)} {att.lower}",
                                     att.lower or "", came, att.container.name.lstrip("/"), how))
        return self.container_receive(skb, att)

    def _host_to_child(self, skb: Skb, oif: str, nexthop: IPAddress) -> Delivery | None:
        """The host transmits on `oif` towards `nexthop`: None unless that is a child of a
        macvlan/ipvlan device (then: lost on the parent, or delivered through a shim)."""
        att = self.model.by_addr.get(nexthop)
        if att is None or att.mode is None:
            return None
        path = lowerdev.host_child_path(self.model, oif, att)
        name, kind = att.container.name.lstrip("/"), lowerdev.kind(att)
        if path == "direct":
            return self._to_child(skb, att, f"shim {oif} -> {kind} sibling {name} (bridge mode)",
                                  oif)
        if path == "parent":
            self.trace.append(BridgeStep(skb.direction, f"{kind} {oif}", oif, "", name,
                                         f"the parent's own frames go to the wire, never to "
                                         f"its {kind} children"))
            return Delivery("unreachable", f"{nexthop} is container {name} on a {kind} of {oif}: "
                            f"the host's {oif} cannot reach its own {kind} children (no shim "
                            "routes to it)", skb)
        if path:
            return self._between_children(skb, f"{oif} ({path})", att, path)
        return None

    def _between_children(self, skb: Skb, src: str, dst: Attachment, path: str) -> Delivery:
        name = dst.container.name.lstrip("/")
        if path == "wire" and self.oracle.decide(
                f"vepa:{dst.lower}", f"whether the switch on {dst.lower} reflects frames back "
                f"to it (VEPA hairpin) so that {src} reaches {name}"):
            return self._to_child(skb, dst, f"{src} -> {name} through the switch (VEPA)", src)
        return Delivery("unreachable", f"{src} and {name} are {lowerdev.kind(dst)} children "
                        f"of {dst.lower} whose modes keep them apart ({path})", skb)

    def _child_send(self, skb: Skb, att: Attachment, nexthop: IPAddress) -> Delivery:
        """A macvlan/ipvlan child sends to `nexthop`: a sibling directly, the host only through
        a shim, anything else onto the parent's wire."""
        name, kind = att.container.name.lstrip("/"), lowerdev.kind(att)
        peer = self.model.by_addr.get(nexthop)
        if peer is att:
            return Delivery("unreachable", f"{nexthop} is {name}'s own address", skb)
        if lowerdev.is_l2_child(peer) and peer is not None and peer.lower == att.lower:
            path = lowerdev.siblings(kind, att.mode, peer)
            if path == "direct":
                return self._to_child(skb, peer, f"{name} -> {kind} sibling (bridge mode)", name)
            return self._between_children(skb, name, peer, path)
        if att.lower is None:
            return Delivery("unreachable", f"{name}'s {kind} network has no parent device: "
                            "nothing but its own containers is on that link", skb)
        if nexthop in self.model.local:
            shim = lowerdev.shim(self.model, att.lower, nexthop) if kind == "macvlan" else None
            if shim is None:
                return Delivery("unreachable", f"{nexthop} is the host's: a {kind} child cannot "
                                f"reach its parent {att.lower}, and no macvlan shim in bridge "
                                f"mode on {att.lower} answers for {nexthop}", skb)
            self.trace.append(BridgeStep(skb.direction, f"{kind} {att.lower}", att.lower, name,
                                         shim.name, f"{name} -> host shim {shim.name}"))
            return self.receive(skb, shim.name)
        if skb.direction in ("reply", "error"):
            return self.reached_client(skb, f"reply left {name} on {att.lower}'s link",
                                       iface=att.lower)
        self.trace.append(EndpointStep(skb.direction, f"{kind} {att.lower}",
                                       f"peer {skb.pkt.dst} via {nexthop} on {att.lower}",
                                       "assumed", "a peer on the parent's link is assumed to "
                                       "answer; the host's hooks are not crossed"))
        return Delivery("peer", f"left {name} on {att.lower}'s link", skb, iface=att.lower)

    # --- local sockets ------------------------------------------------------------------
    def local_deliver(self, skb: Skb, iif: str | None = None) -> Delivery:
        pkt = skb.pkt
        if skb.direction in ("reply", "error"):
            return self.reached_client(skb, "reply reached the local socket")
        if pkt.proto not in ("tcp", "udp"):
            return Delivery("socket", f"{pkt.proto} answered by the kernel", skb)
        sock = skb.sk if isinstance(skb.sk, Socket) else \
            self.model.socket_for(pkt.proto, pkt.dst, pkt.dport or 0, iif)
        if sock is None:
            bound = self.model.sockets_for(pkt.proto, pkt.dst, pkt.dport or 0)
            why = (f"known: only sockets bound to "
                   f"{', '.join(sorted({s.iface or '' for s in bound}))} listen; the packet "
                   f"came in on {iif}" if bound else "known: no listening socket in ss.txt")
            self.trace.append(EndpointStep(skb.direction, "input",
                                           f"{pkt.dst}:{pkt.dport}/{pkt.proto}",
                                           "closed", why))
            return Delivery("closed", f"nothing listens on {pkt.dst}:{pkt.dport}/{pkt.proto}", skb)
        proc = sock.process or "?"
        if proc == "dockerd":
            # userland-proxy=false: dockerd binds published ports only to reserve them; the
            # kernel completes the handshake but nothing ever answers (seen in the lab).
            self.trace.append(EndpointStep(skb.direction, "input",
                                           f"dockerd on {sock.addr}:{sock.port}",
                                           "holds the port", "known: dockerd's socket in ss.txt, "
                                           "no service behind it"))
            return Delivery("closed", f"dockerd only reserves {sock.addr}:{sock.port}; nothing "
                            "serves it (userland-proxy=false)", skb, target=sock)
        kind = "proxy" if proc == "docker-proxy" else "socket"
        self.trace.append(EndpointStep(skb.direction, "input", f"{proc} on {sock.addr}:{sock.port}",
                                       "listening", KNOWN_SOCKET + ("; docker-proxy re-originates "
                                                                    "to the container"
                                                                    if kind == "proxy" else "")))
        return Delivery(kind, f"{proc} listening on {sock.addr}:{sock.port}", skb, target=sock)

    # --- bridge family and ARP ----------------------------------------------------------
    _last_bridge_ref: RuleRef | None = None

    @property
    def neigh(self) -> set[tuple[str, IPv4Address | None]]:
        """Neighbour (ARP) entries learnt during this simulation: (who, address)."""
        if not hasattr(self, "_neigh"):
            self._neigh: set[tuple[str, IPv4Address | None]] = set()
        return self._neigh

    def bridge_hook(self, skb: Skb | None, hook: str, inport: str | None, outport: str | None,
                    bridge: str | None, arp: ArpInfo | None = None,
                    direction: str | None = None) -> Delivery | None:
        """Run the bridge-family base chains (ebtables, nft bridge) of `hook` on a frame."""
        for base in self.pipeline.chains("bridge", hook):
            ctx = PacketContext(
                pkt=skb.pkt if skb else None, family="bridge", hook=hook, env=self.model,
                iif=inport, oif=outport, arp=arp,
                src_mac=arp.sha if arp else None,
                dst_mac=(("ff:ff:ff:ff:ff:ff" if arp.op == 1 else arp.tha) if arp else None),
                eth_proto=_eth_proto(skb, arp), mark=skb.mark if skb else 0,
                extra=(("logical_in", bridge if inport else None),
                       ("logical_out", bridge if outport else None)))
            res = self.walk(base, hook, ctx, direction or (skb.direction if skb else "original"))
            if res.verdict in ("drop", "reject", "queue"):
                self._last_bridge_ref = res.by
                return Delivery("dropped", f"dropped in bridge {base.table.name} {base.chain.name}",
                                skb, res.by, None if res.by else
                                ("bridge", base.table.name, base.chain.name, "drop"))
        return None

    def arp_hook(self, hook: str, arp: ArpInfo, iif: str | None, oif: str | None,
                 direction: str) -> bool:
        for base in self.pipeline.chains("arp", hook):
            ctx = PacketContext(pkt=None, family="arp", hook=hook, env=self.model, iif=iif,
                                oif=oif, arp=arp, eth_proto=0x0806)
            res = self.walk(base, hook, ctx, direction)
            if res.verdict in ("drop", "reject"):
                self._last_bridge_ref = res.by
                return False
        return True

    def _host_sends(self, frame: ArpInfo, bridge: str, port: str, direction: str) -> bool:
        """An ARP frame from the host out of bridge port `port`: arp OUTPUT, bridge OUTPUT and
        POSTROUTING, stopping at the first that drops it."""
        return (self.arp_hook("output", frame, None, bridge, direction)
                and not self.bridge_hook(None, "output", None, port, bridge, frame, direction)
                and not self.bridge_hook(None, "postrouting", None, port, bridge, frame,
                                         direction))

    def _host_receives(self, frame: ArpInfo, bridge: str, port: str, direction: str) -> bool:
        """An ARP frame from bridge port `port` to the host: bridge PREROUTING and INPUT, arp
        INPUT, stopping at the first that drops it."""
        return (not self.bridge_hook(None, "prerouting", port, None, bridge, frame, direction)
                and not self.bridge_hook(None, "input", port, None, bridge, frame, direction)
                and self.arp_hook("input", frame, bridge, None, direction))

    def arp(self, bridge: str, att: Attachment, asker_ip: IPv4Address | None,
            target_ip: IPv4Address, host_asks: bool, direction: str) -> bool:
        """The ARP exchange a delivery over `bridge` needs (request and reply both must pass)."""
        asker = "host" if host_asks else att.container.name
        if (asker, target_ip) in self.neigh:
            return True  # the neighbour entry exists already (learnt from an earlier request)
        # a MAC the snapshot does not have stays None (ebtables MAC matches are then Unknown,
        # named), never an invented address a rule could match or miss by accident
        iface = self.model.host.interface(bridge)
        host_mac = iface.mac if iface is not None else None
        cmac = att.endpoint.mac
        self.phase = f"arp {bridge}"
        if host_asks:
            req = ArpInfo(1, host_mac, asker_ip, "00:00:00:00:00:00", target_ip)
            rep = ArpInfo(2, cmac, target_ip, host_mac, asker_ip)
            request_ok = self._host_sends(req, bridge, att.port, direction)
            ok = request_ok and self._host_receives(rep, bridge, att.port, direction)
            target_side = att.container.name
            who = ("host", f"{target_ip}")
        else:
            req = ArpInfo(1, cmac, asker_ip, "00:00:00:00:00:00", target_ip)
            rep = ArpInfo(2, host_mac, target_ip, cmac, asker_ip)
            request_ok = self._host_receives(req, bridge, att.port, direction)
            ok = request_ok and self._host_sends(rep, bridge, att.port, direction)
            target_side = "host"
            who = (att.container.name.lstrip("/"), f"{target_ip}")
        if request_ok:
            # a request that arrives creates the asker's neighbour entry at the target
            # (net/ipv4/arp.c arp_process: neigh_event_ns for requests to a local address)
            self.neigh.add((target_side, asker_ip))
        if ok:
            self.neigh.add((asker, target_ip))
        self.trace.append(ArpStep(direction, self.phase, "who-has", f"{who[0]} ({asker_ip})",
                                  who[1], ok, "" if ok else "ARP request or reply filtered"))
        return ok

    def _arp_between(self, bridge: str, src: Attachment, dst: Attachment,
                     direction: str) -> bool:
        req = ArpInfo(1, src.endpoint.mac, src.addr(4), "00:00:00:00:00:00", dst.addr(4))
        rep = ArpInfo(2, dst.endpoint.mac, dst.addr(4), src.endpoint.mac, src.addr(4))
        self.phase = f"arp {bridge}"
        ok = True
        for frame, a, b in ((req, src.port, dst.port), (rep, dst.port, src.port)):
            for hook, i, o in (("prerouting", a, None), ("forward", a, b),
                               ("postrouting", None, b)):
                if self.bridge_hook(None, hook, i, o, bridge, frame, direction):
                    ok = False
        self.trace.append(ArpStep(direction, self.phase, "who-has", str(src.addr(4)),
                                  str(dst.addr(4)), ok, "" if ok else "ARP filtered on the bridge"))
        return ok

    def _route_step(self, skb: Skb, decision: str, route: str, oif: str | None = None) -> None:
        self.trace.append(RouteStep(skb.direction, self.phase, str(skb.pkt.dst), decision, route,
                                    oif or ""))


def _eth_proto(skb: Skb | None, arp: ArpInfo | None) -> int:
    """The frame's ethertype: ARP, else the IP version of the packet a frame without ARP has."""
    if arp is not None or skb is None:  # bridge_hook gets a packet or an ARP frame, never neither
        return 0x0806
    return 0x0800 if skb.pkt.family == 4 else 0x86DD


# where an answer arrived: ("iface", name) | ("container", Attachment) | ("host",)
Where = tuple[str, str] | tuple[str, Attachment] | tuple[str]


def _where_name(where: Where) -> str:
    if len(where) == 1:  # ("host",)
        return "a local socket of the host"
    what = where[1]
    if isinstance(what, Attachment):  # ("container", att)
        return f"container {what.container.name.lstrip('/')}"
    return f"interface {what}"


PORT_PROTOS = (6, 17, 33, 132, 136)  # tcp, udp, dccp, sctp, udplite: ports in the flow


def flow_keys(pkt: Packet, uid: int | None) -> FlowKeys:
    """The protocol, ports and uid a route lookup of `pkt` carries (flowi4_proto,
    fl4_sport/dport: the ports only for protocols that have them, as the flow dissector)."""
    proto = proto_number(pkt.proto) or 0
    if proto in PORT_PROTOS:
        return FlowKeys(proto, pkt.sport or 0, pkt.dport or 0, uid)
    return FlowKeys(proto, 0, 0, uid)


def martian_source(model: HostModel, src: IPAddress, iif: str, dst: IPAddress | None = None,
                   mark: int = 0, keys: FlowKeys = NO_KEYS, decide: Decide | None = None,
                   back_iif: str | None = None) -> str | None:
    """ip_route_input_slow + fib_validate_source (net/ipv4/route.c, fib_frontend.c): which
    sources a packet from outside may not carry. IPv4 only (IPv6 has no rp_filter sysctl;
    its rpfilter is a match). `dst`, `mark` and `keys` are the packet's, for the reverse
    lookup: the host address as its source, the mark only with src_valid_mark=1; `back_iif`
    its input device (None: loopback)."""
    if src.is_multicast:
        return "a multicast source"
    if src.version != 4:
        return None
    if src in ZERONET4 or src == LIMITED_BCAST4:
        return "a zero-net or limited-broadcast source"
    if src in LOOPBACK4 and not model.route_localnet(iif):
        return "127.0.0.0/8 from outside lo (route_localnet=0)"
    rpf = model.conf_max("rp_filter", iif)
    accept_local = model.conf_max("accept_local", iif)
    if not rpf and not model.custom_routing:
        # the shortcut of fib_validate_source: without rp_filter, custom rules or custom
        # local routes no reverse lookup is done, only a local address is refused
        if src in model.local and not accept_local:
            return "one of this host's own addresses as source (accept_local=0)"
        if decide is None or _reverse_refusal(model, src, iif, dst, mark, keys, back_iif,
                                              rpf, accept_local, None) is None:
            return None
        # the full check would refuse it; the kernel does it when the namespace ever had a
        # custom rule or local route (the flags are never cleared): not in a snapshot
        if not decide("fib-custom-history",
                      "this namespace has had no custom `ip rule` or `local` route since it "
                      "was made (fib_validate_source skips the reverse lookup for "
                      f"{src} with rp_filter=0 only then; the kernel's flags stay set after "
                      "such a rule is deleted, and no snapshot shows them)"):
            return None
    return _reverse_refusal(model, src, iif, dst, mark, keys, back_iif, rpf, accept_local,
                            decide)


def _reverse_refusal(model: HostModel, src: IPAddress, iif: str, dst: IPAddress | None,
                     mark: int, keys: FlowKeys, back_iif: str | None, rpf: int,
                     accept_local: int, decide: Decide | None) -> str | None:
    """__fib_validate_source's reverse lookup (fib_frontend.c): why it refuses `src`."""
    back = model.route(src, dst, back_iif,
                       mark if model.conf_max("src_valid_mark", iif) else 0,
                       FlowKeys(keys.proto, keys.dport, keys.sport, 0), decide,
                       linkstate=False)  # __fib_validate_source: FIB_LOOKUP_IGNORE_LINKSTATE
    if back.type in ("blackhole", "unreachable", "prohibit", "none"):
        # the lookup failed: last_resort accepts only without rp_filter
        return f"rp_filter={rpf}: no route back to {src} ({back.type})" if rpf else None
    if back.type == "broadcast":
        return "a broadcast address as source"
    if back.type == "local" and not accept_local:
        return "one of this host's own addresses as source (accept_local=0)"
    if back.type not in ("unicast", "local"):
        return f"the route back to {src} is {back.type}"
    if back.type == "unicast" and iif not in model.route_devices(back):
        if rpf == 1:
            return f"rp_filter=1: the route back to {src} leaves by {back.oif}, not {iif}"
        if rpf and not model.has_ipv4(iif):
            # __fib_validate_source: `if (no_addr) goto last_resort;` comes before the rpf == 1
            # test, and last_resort refuses whenever rp_filter is on: loose mode drops a
            # packet whose route back is elsewhere if its input device has no IPv4 address
            return (f"rp_filter={rpf}: {iif} has no IPv4 address and the route back to {src} "
                    f"leaves by {back.oif} (fib_validate_source's last resort)")
    return None
