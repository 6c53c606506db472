"""One flow, both directions: `simulate(host, flow) -> FlowResult`, pure and deterministic.

A flow is *allow* when its first packet reaches a listening endpoint and the endpoint's answer
makes it back to the opener (CONTRACT §3). Steps:
1. the first packet leaves its origin (an interface, a container, a local process);
2. where it lands decides who answers: a socket, a container port, a peer outside the host;
   docker-proxy accepts and re-originates a second connection to the container (both legs
   must succeed: the "big pitfall" of seed 004);
3. the answer (SYN-ACK) travels back through the same conntrack table, so replies are
   ESTABLISHED and un-NATed from the entry, never by nat chains.
When a match cannot be decided, the flow is re-run under the other assumptions (`Oracle`);
the verdict is `uncertain` only if the outcomes differ, and then names what it hinged on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nflens.errors import FlowError
from nflens.ir.host import Host, Socket
from nflens.ir.packet import Flow, IPAddress, Packet
from nflens.kernel import icmplimit, lowerdev
from nflens.kernel.chain import Oracle, RuleRef
from nflens.kernel.conntrack import Conntrack
from nflens.kernel.hostmodel import Attachment, HostModel
from nflens.kernel.journey import Journey, Where, flow_keys
from nflens.kernel.loops import check_loadable
from nflens.kernel.pipeline import Pipeline
from nflens.kernel.routing import NO_KEYS, FlowKeys
from nflens.kernel.skb import Delivery, Skb
from nflens.kernel.trace import EndpointStep, Step, VerdictStep
from nflens.literal import names, quoted

EPHEMERAL_PORT = 40000
MAX_RUNS = 64  # runs of one flow under different assumptions before the search stops

Start = Callable[[Journey, Skb], Delivery]  # sends a packet from the flow's origin
FlowEnd = tuple[str, str, Delivery]  # verdict, reason, where the deciding packet ended


@dataclass
class FlowResult:
    name: str
    verdict: str  # allow, deny, uncertain
    expect: str | None
    reason: str
    stopped_at: RuleRef | None
    stopped_policy: tuple[str, str, str, str] | None
    steps: list[Step]
    uncertain_because: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return self.expect is None or self.expect == self.verdict

    def to_json(self) -> dict[str, Any]:
        stopped = None
        if self.stopped_at is not None:
            stopped = self.stopped_at.to_json()
        elif self.stopped_policy is not None:
            fam, table, chain, policy = self.stopped_policy
            stopped = {"family": fam, "table": table, "chain": chain,
                       "rule": f"policy {policy}", "index": None}
        return {"name": self.name, "verdict": self.verdict, "expect": self.expect,
                "reason": self.reason, "stopped_at": stopped,
                "uncertain_because": self.uncertain_because, "assumptions": self.assumptions,
                "path": [s.to_json() for s in self.steps]}


class Simulator:
    """Holds the per-host indexes so many flows can be simulated cheaply."""

    def __init__(self, host: Host, *, loadable: bool = False):
        """`loadable=True` skips the load check for a ruleset derived from a checked one by
        removing rules or accepting a policy (kernel/whatif.py): that only removes jump edges,
        so it cannot make a loop or a deeper nesting. The check walks the whole ruleset, and the
        audit's blocker search builds one such simulator per blocker per port: checking each
        made the audit quadratic in published ports."""
        if not loadable:
            check_loadable(host.ruleset)  # the kernel would not load it: no verdict, one error
        self.host = host
        self.model = HostModel(host)
        self.pipeline = Pipeline(host.ruleset)

    def validate(self, flow: Flow) -> None:
        """Raise the FlowError `run` would raise for this flow (an unknown container, one
        without an address of the flow's IP version, mixed IP versions), without simulating:
        `check --json` refuses a bad flow before it writes the first result (issue 29.14)."""
        self._first_packet(flow.unzoned())

    def run(self, flow: Flow) -> FlowResult:
        """Explore every outcome of the unknowns a run meets, until no new one appears.

        Each run records the decision points it met, in order, with the value taken. For each
        point on a run's path the flipped alternative (earlier points as they were, later ones
        at their default) is run next, so the points only reached under another assumption
        (a rule inside a chain entered only if an unknown match matched) are explored too:
        the search walks the whole decision tree. Beyond MAX_RUNS runs it stops, and a verdict
        not yet contradicted is still `uncertain` because not every case was looked at."""
        flow = flow.unzoned()
        oracle = Oracle()
        first = self._once(flow, oracle)
        if not oracle.seen:
            return first
        reasons = dict(oracle.seen)
        outcomes = {first.verdict}
        queue = self._flips({}, oracle)
        tried: set[frozenset[tuple[str, bool]]] = {frozenset()}
        runs = 1
        while queue and len(outcomes) == 1:
            choices = queue.pop(0)
            if frozenset(choices.items()) in tried:
                continue
            if runs >= MAX_RUNS:
                return _uncertain(first, reasons, f"the search stopped after {runs} runs with "
                                  f"unknowns left unexplored ({len(reasons)} met so far)")
            tried.add(frozenset(choices.items()))
            alt = Oracle(dict(choices))
            outcomes.add(self._once(flow, alt).verdict)
            runs += 1
            for key, why in alt.seen.items():
                reasons.setdefault(key, why)
            queue.extend(self._flips(choices, alt))
        if len(outcomes) == 1:
            first.assumptions.extend(f"did not matter: {r}" for r in reasons.values())
            return first
        return _uncertain(first, reasons)

    @staticmethod
    def _flips(choices: dict[str, bool], oracle: Oracle) -> list[dict[str, bool]]:
        """The alternatives of one run: each newly met point flipped, the points before it
        (in the order they were met) kept at the values this run took."""
        out: list[dict[str, bool]] = []
        prefix: dict[str, bool] = {}
        for key in oracle.seen:
            value = oracle.choices.get(key, False)
            if key not in choices:
                out.append({**prefix, key: not value})
            prefix[key] = value
        return out

    def _once(self, flow: Flow, oracle: Oracle) -> FlowResult:
        steps: list[Step] = []
        unmodelled: list[str] = []
        walker = Journey(self.model, self.pipeline, Conntrack(), oracle, steps, unmodelled)
        outcome, reason, end = self._connect(walker, flow)
        steps.append(VerdictStep("result", "verdict", outcome, reason))
        result = FlowResult(flow.name, outcome, flow.expect, reason,
                            end.by if end and outcome != "allow" else None,
                            end.by_policy if end and outcome != "allow" and not end.by else None,
                            steps, assumptions=list(self.model.assumptions) + walker.assumed)
        # what the model did without a choice to explore is said as such, never "did not matter"
        result.assumptions.extend(f"not explored: {note}"
                                  for note in dict.fromkeys(unmodelled))
        return result

    # --- the connection -------------------------------------------------------------------
    def _connect(self, walker: Journey, flow: Flow) -> FlowEnd:
        skb, start, origin = self._first_packet(flow)
        first = skb.pkt
        walker.client = (first.src, first.sport, first.dst, first.dport)
        walker.client_at = origin
        end = start(walker, skb)
        if not end.answered:
            return "deny", f"first packet: {end.detail}", end
        if end.kind == "proxy":
            leg = self._proxy_leg(walker, flow, end)
            if leg is not None:
                return leg
        reply = self._reply(walker, end)
        if reply.kind != "client":
            return "deny", f"reply: {reply.detail}", reply
        if first.proto == "tcp":
            refused = self._ack_refused(walker, first, start, skb.local_origin, end)
            if refused is not None:
                return "deny", f"handshake ACK: {refused.detail}", refused
        return "allow", f"connected: {end.detail}", end

    def _ack_refused(self, walker: Journey, first: Packet, start: Start,
                     local: bool, syn_end: Delivery) -> Delivery | None:
        """The handshake's third packet (the client's ACK, conntrack ESTABLISHED) meets rules
        the SYN did not (`--state ESTABLISHED -j REJECT`). A dropped ACK is retransmitted
        silently: the connection counts as established (CONTRACT §3). A REJECT answers it,
        and the opener's connect() fails with ECONNREFUSED — for an ICMP error as for a RST,
        local or remote opener alike (measured by the fuzzer) — provided that answer makes
        its own way back (the ICMP error is RELATED to the connection; an INPUT rule
        dropping ICMP keeps the connection up). So does a listener's RST to an ACK that TPROXY
        handed it (_listener_reset). Steps join the trace only when they decide."""
        ack = Skb(first.with_(tcp_flags=frozenset({"ACK"})), local_origin=local,
                  uid=None if local else 0)
        saved, walker.trace = walker.trace, []
        try:
            end = start(walker, ack)
            reset = self._listener_reset(end, syn_end)
            if reset is not None:
                end, answer = reset
            elif end.kind == "rejected":
                answer = self._refusal(end, first)
            else:
                return None
            back = walker.local_out(answer)
        finally:
            steps, walker.trace = walker.trace, saved
        if back.kind != "client":
            return None
        saved.extend(steps)
        if answer.pkt.icmp_type is not None:
            note = icmplimit.assumption(self.model, answer.pkt.family, answer.pkt.icmp_type,
                                        answer.pkt.dst)
            if note is not None and note not in walker.assumed:
                walker.assumed.append(note)
        return end

    @staticmethod
    def _listener_reset(end: Delivery, syn_end: Delivery) -> tuple[Delivery, Skb] | None:
        """The handshake ACK diverted by TPROXY to a listener that does not hold the
        connection. TPROXY first looks for an established (or request) socket on the
        packet's addresses as it sees them (tproxy_tg4: nf_tproxy_get_sock_v4 with
        NF_TPROXY_LOOKUP_ESTABLISHED), and only without one assigns the listener. The
        request socket was made where the SYN was delivered — after a DNAT later in
        prerouting, at the rewritten address — so the ACK, seen by TPROXY before that DNAT,
        misses it and is handed to the listener, which answers an ACK with a RST
        (tcp_rcv_state_process, TCP_LISTEN: `if (th->ack) return 1;` -> tcp_v4_send_reset).
        Seen in the lab (fuzz case 24030-24: TcpOutRsts 1, TcpPassiveOpens 0)."""
        ack_skb, syn = end.skb, syn_end.skb
        if end.kind != "socket" or ack_skb is None or ack_skb.sk is None or syn is None:
            return None
        if ack_skb.sk_at == (syn.pkt.dst, syn.pkt.dport):
            return None  # the lookup finds the request socket: the handshake completes
        ack = ack_skb.pkt
        rst = Packet(ack.dst, ack.src, "tcp", ack.dport, ack.sport,
                     tcp_flags=frozenset({"RST", "ACK"}))
        at = ack_skb.sk_at
        where = f"{at[0]}:{at[1]}" if at is not None else "?"
        refused = Delivery("rejected", f"TPROXY handed the ACK (seen at {where}) to its "
                           f"listener, not to the connection made at {syn.pkt.dst}:"
                           f"{syn.pkt.dport}: the listener answers it with a RST", ack_skb)
        return refused, Skb(rst, direction="error", local_origin=True)

    def _refusal(self, end: Delivery, first: Packet) -> Skb:
        """What REJECT sends back about the packet it refused, to the opener: a RST that
        seems to come from the far end, or an ICMP destination-unreachable from this host,
        RELATED to the connection."""
        entry = _arrived(end).entry
        if "tcp-reset" in end.detail:
            rst = Packet(first.dst, first.src, "tcp", first.dport, first.sport,
                         tcp_flags=frozenset({"RST", "ACK"}))
            return Skb(rst, direction="error", local_origin=True)
        proto = "icmp" if first.family == 4 else "icmpv6"
        err = Packet(self._host_source(first.src), first.src, proto,
                     icmp_type=3 if first.family == 4 else 1)
        return Skb(err, direction="error", entry=entry, ctdir="REPLY", related=entry is not None,
                   local_origin=True)

    def _first_packet(self, flow: Flow) -> tuple[Skb, Start, Where]:
        """The connection's first packet, how it is sent, and where its opener sits (where
        the answer has to arrive)."""
        o = flow.origin
        sport = flow.sport or EPHEMERAL_PORT
        if o.container:
            att, addr = self._attachment(o.container, flow.dst)
            pkt = Packet(addr, flow.dst, flow.proto, sport, flow.dport)
            return Skb(pkt), lambda w, s: w.container_send(s, att), ("container", att)
        if o.host:
            dev = self._zone_device(flow)
            probe = Packet(flow.dst, flow.dst, flow.proto, sport, flow.dport)
            src = self._host_source(flow.dst, flow_keys(probe, 0), dev)
            pkt = Packet(src, flow.dst, flow.proto, sport, flow.dport)
            # the host's opener: an unbound socket of an owner the snapshot does not show
            return (Skb(pkt, local_origin=True, uid=None, src_bound=False, dev=dev),
                    lambda w, s: w.local_out(s), ("host",))
        if flow.zone is not None:
            raise FlowError(f"flow {flow.name!r}: a %zone ({flow.dst}%{flow.zone}) picks the "
                            "interface of the host's own connection; this flow starts "
                            "elsewhere")
        iif = o.iface
        if iif is None or o.src is None:
            raise FlowError(f"flow {flow.name!r}: 'from' needs iface+src, container or host")
        if o.src.version != flow.dst.version:
            raise FlowError(f"flow {flow.name!r}: source and destination are different IP "
                            "versions")
        pkt = Packet(o.src, flow.dst, flow.proto, sport, flow.dport)
        if self.model.is_plain_bridge(iif):  # a host behind a bridge Docker does not own
            return Skb(pkt), lambda w, s: w.from_bridge_host(s, iif), ("iface", iif)
        return Skb(pkt), lambda w, s: w.receive(s, iif), ("iface", iif)

    def _attachment(self, ref: str, dst: IPAddress) -> tuple[Attachment, IPAddress]:
        """The attachment a connection from container `ref` to `dst` leaves by, and its
        address (the source the kernel picks: that of the route's device)."""
        version = dst.version
        container = self.host.runtimes.container(ref)
        if container is None:
            known = names(c.name.lstrip("/") for c in self.host.runtimes.containers) or "none"
            raise FlowError(f"unknown container {quoted(ref)} (known: {known})")
        for att in self.model.attachments:
            addr = att.addr(version) if att.container is container else None
            if addr is not None:
                att = self.model.container_route(att, dst)  # the source is the route's
                return att, att.addr(version) or addr
        raise FlowError(f"container {ref!r} has no IPv{version} address on a bridge network")

    def _zone_device(self, flow: Flow) -> str | None:
        """The device the host's connect() to `flow.dst` is bound to. tcp_v6_connect and
        __ip6_datagram_connect (net/ipv6/) take the scope id for a link-local destination
        (sk_bound_dev_if, so every lookup of the connection has that oif) and refuse one
        without it (EINVAL: "Connect to link-local address requires an interface"); for any
        other address the scope id is not looked at."""
        dst, zone = flow.dst, flow.zone
        if dst.version != 6 or not dst.is_link_local:
            return None
        if zone is None:
            raise FlowError(f"flow {flow.name!r}: the host's connect() to the link-local "
                            f"{dst} needs its interface (EINVAL without a scope id): write "
                            f"{dst}%IFACE")
        if self.host.interfaces and self.host.interface(zone) is None:
            known = names(i.name for i in self.host.interfaces)
            raise FlowError(f"flow {flow.name!r}: unknown interface {quoted(zone)} in "
                            f"{dst}%{zone} (interfaces: {known})")
        return zone

    def _host_source(self, dst: IPAddress, keys: FlowKeys = NO_KEYS,
                     dev: str | None = None) -> IPAddress:
        """The source address the kernel picks for a local connection (route prefsrc), from
        connect()'s first lookup: no source yet, but the protocol and ports of the socket
        (ip_route_connect_init), so `ipproto`/`sport` rules apply (found by fuzzing). `dev`:
        the device the socket is bound to; a link-local destination gets the link-local
        address of the device (ipv6_dev_get_saddr's rule 2: the matching scope)."""
        res = self.model.route(dst, keys=keys, oif=dev)
        if res.type == "local":
            return dst
        if res.route is not None and res.route.prefsrc is not None:
            return res.route.prefsrc
        iface = self.host.interface(res.oif) if res.oif else None
        mine = [a for a in iface.addresses if a.ip.version == dst.version] if iface else []
        link = dst.version == 6 and dst.is_link_local
        for a in sorted(mine, key=lambda a: (a.scope == "link") != link):
            if a.scope != "link" or link:
                return a.ip
        return ipaddress.ip_address("127.0.0.1" if dst.version == 4 else "::1")

    def _proxy_leg(self, walker: Journey, flow: Flow, end: Delivery) -> FlowEnd | None:
        """docker-proxy accepted; it connects from the host to the container's port."""
        pkt = _arrived(end).pkt
        target = self._proxy_target(pkt.dport, pkt.proto, pkt.dst)
        if target is None:
            walker.trace.append(EndpointStep("original", "docker-proxy", "docker-proxy", "unknown",
                                             "no published port found for this proxy"))
            return None
        addr, port = target
        walker.trace.append(EndpointStep("original", "docker-proxy",
                                         f"docker-proxy -> {addr}:{port}",
                                         "connects", "second connection, from the host"))
        wanted = Packet(addr, addr, pkt.proto, EPHEMERAL_PORT + 1, port)
        skb = Skb(Packet(self._host_source(addr, flow_keys(wanted, 0)), addr, pkt.proto,
                         EPHEMERAL_PORT + 1, port),
                  local_origin=True, src_bound=False)  # docker-proxy runs as root
        outer = walker.client, walker.client_at
        walker.client, walker.client_at = (skb.pkt.src, skb.pkt.sport, addr, port), ("host",)
        leg = walker.local_out(skb)
        if not leg.answered:
            walker.client, walker.client_at = outer
            return "deny", f"docker-proxy's connection: {leg.detail}", leg
        back = self._reply(walker, leg)
        walker.client, walker.client_at = outer
        if back.kind != "client":
            return "deny", f"docker-proxy's connection, reply: {back.detail}", back
        return None

    def _proxy_target(self, port: int | None, proto: str,
                      dst: IPAddress) -> tuple[IPAddress, int] | None:
        """Where docker-proxy on host port `port` connects: the publishing container's address
        of the destination's IP version, else its IPv4 one."""
        for c in self.host.runtimes.containers:
            if not c.running:
                continue
            for b in c.ports:
                if b.host_port == port and b.proto == proto:
                    for version in (dst.version, 4):
                        for att in self.model.attachments:
                            addr = att.addr(version) if att.container is c else None
                            if addr is not None:
                                return addr, b.container_port
        return None

    def _reply(self, walker: Journey, end: Delivery) -> Delivery:
        """The answer of whoever `end` reached (an answered delivery), on its way back."""
        pkt = _arrived(end).pkt
        flags = frozenset({"SYN", "ACK"}) if pkt.proto == "tcp" else frozenset()
        answer = Packet(pkt.dst, pkt.src, pkt.proto, pkt.dport, pkt.sport, tcp_flags=flags)
        skb = Skb(answer, direction="reply", **_answering_socket(end))
        if end.kind == "peer":
            direct = self._direct_reply(walker, end)
            if direct is not None:
                return direct
        if end.kind in ("socket", "proxy"):
            if answer.dst.version == 6 and answer.dst.is_link_local:
                skb.dev = _arrived(end).iif  # the accepted socket is bound to that device
            return walker.local_out(skb)
        if end.kind == "container":
            # journey.py's container deliveries all name the attachment that answered
            assert isinstance(end.target, Attachment), "a container delivery without its veth"
            return walker.container_send(skb, end.target)
        # the one answered kind left is "peer", which journey.py builds with its output device
        assert end.iface is not None, f"a {end.kind} delivery without the device it left on"
        if self.model.is_plain_bridge(end.iface):
            return walker.from_bridge_host(skb, end.iface)
        note = self._answer_way_note(end.iface, answer.src)
        if note and note not in walker.assumed:
            walker.assumed.append(note)
        return walker.receive(skb, end.iface)

    def _answer_way_note(self, iface: str, peer: IPAddress) -> str | None:
        """A peer off the host answers on the interface the host's route to it uses: the
        snapshot's routes are taken as the truth about the network beyond. Said where it
        matters (issue 25): another uplink with rp_filter=1 drops the answer (a SYN-ACK) if
        the network beyond sends it in there, as on a host with two uplinks."""
        if peer.version != 4:
            return None
        strict = sorted(i.name for i in self.host.interfaces
                        if i.name not in (iface, "lo") and i.up and i.kind != "bridge"
                        and not i.master and any(a.ip.version == 4 for a in i.addresses)
                        and self.model.conf_max("rp_filter", i.name) == 1)
        if not strict:
            return None
        return (f"assumed: the answer from {peer} comes back in on {iface}, the interface of "
                f"the host's route to it (the network beyond the host is not in the snapshot); "
                f"arriving on {', '.join(strict)} instead, rp_filter=1 there would drop it")

    def _direct_reply(self, walker: Journey, end: Delivery) -> Delivery | None:
        """A peer answers on its own link when the packet's source (after any SNAT) is a
        neighbour there: the reply then never comes back through this host, so conntrack
        cannot undo a DNAT and the client drops an answer from an address it never asked
        (hairpin NAT without SNAT; a source equal to the peer's own address is a martian
        there). Found by differential fuzzing. None: the reply comes back through us."""
        arrived = _arrived(end)
        pkt = arrived.pkt
        if pkt.src in self.model.local or lowerdev.child(self.model, end.iface or "", pkt.src):
            return None  # the host's, or a macvlan child's on that link: receive() delivers it
        # whether the source is a neighbour on that link is the link's subnet (main's connected
        # route), not this host's policy rules, which the peer does not apply (fuzz: an
        # `ip rule iif lo` to an unreachable table hid a hairpin)
        back = self.model.fib.table_route("main", pkt.src)
        if back is None or back.type != "unicast" or back.dev != end.iface or back.gateway:
            return None
        entry = arrived.entry
        rewritten = entry is not None and (entry.orig.dst, entry.orig.dport) != \
            (entry.reply.src, entry.reply.sport)
        walker.trace.append(EndpointStep(
            "reply", f"out {end.iface}", f"peer {pkt.dst} -> {pkt.src} on {end.iface}",
            "direct", "the peer answers on its link, not through this host"))
        if rewritten:
            return Delivery("dropped", f"{pkt.dst} answers {pkt.src} directly on {end.iface}: "
                            "the reply bypasses this host's reverse NAT (hairpin without SNAT)",
                            end.skb)
        return walker.reached_client(Skb(pkt.with_(src=pkt.dst, dst=pkt.src, sport=pkt.dport,
                                                   dport=pkt.sport), direction="reply"),
                                     f"{pkt.dst} answered directly on {end.iface}",
                                     iface=end.iface)


def _answering_socket(end: Delivery) -> dict[str, Any]:
    """The Skb fields of a local socket's answer: its owner (docker-proxy and dockerd run as
    root) for `ip rule uidrange`, and whether its route lookup carries the source — a TCP
    answer always does (the request socket's local address: inet_csk_route_req), a UDP one
    only from a socket bound to an address (udp_sendmsg looks up with inet_saddr)."""
    sock = end.target
    if end.kind not in ("socket", "proxy") or not isinstance(sock, Socket):
        return {}
    root = sock.process in ("docker-proxy", "dockerd")
    # a socket bound to a device answers with that device as the lookup's oif (ir_iif from
    # inet_request_bound_dev_if; udp_sendmsg's sk_bound_dev_if)
    return {"uid": 0 if root else sock.uid, "dev": sock.iface,
            "src_bound": sock.proto == "tcp" or not sock.addr.is_unspecified}


def _arrived(end: Delivery) -> Skb:
    """The packet whose journey `end` ends. Every answered delivery (socket, proxy, container,
    peer) and every rejected one carries it: kernel/journey.py and kernel/path.py build those
    with their skb; only failures before a packet exists (no route, a martian) carry none, and
    the callers here only ever see answered or rejected ones."""
    assert end.skb is not None, f"a {end.kind} delivery without its packet"
    return end.skb


def _uncertain(result: FlowResult, reasons: dict[str, str], why: str | None = None) -> FlowResult:
    result.verdict = "uncertain"
    result.uncertain_because = list(dict.fromkeys(reasons.values()))
    if why:
        result.uncertain_because.append(why)
    result.reason = "depends on: " + "; ".join(result.uncertain_because)
    return result


def simulate(host: Host, flow: Flow) -> FlowResult:
    return Simulator(host).run(flow)
