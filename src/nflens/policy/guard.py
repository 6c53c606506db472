"""Refuse a change that would cut the SSH session it is typed in (seed 003's warning: "one
mistake and SSH is gone the same instant").

`SSH_CONNECTION` names the session. OpenSSH writes it in session.c (do_setup_env):
`"%.50s %d %.50s %d"` -- client address, client port, server address, server port -- with the
addresses from getnameinfo(NI_NUMERICHOST): dotted IPv4, IPv6 (possibly with a `%scope`), and an
IPv4 client seen on an IPv6 socket as the v4-mapped `::ffff:a.b.c.d` unless sshd normalised it
(canohost.c ipv64_normalise_mapped). A value of any other shape is not understood, and not
understanding it must not mean "no session to protect": it is refused (apply says so, and
`--force` overrides with a warning). Likewise a session whose path cannot be simulated.

The session's connection is simulated before and after the change as a new connection from the
client: if it was allowed and would no longer be, the apply is refused unless --force. (A session
already established survives a drop of *new* connections only by luck of the rule order; the
policy's "replies" rule comes first, but other rules need not.)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from nflens.ir.host import Host
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.policy.flows import external

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unreadable(ValueError):
    """An SSH_CONNECTION value this guard cannot act on (the message says why)."""


@dataclass(frozen=True)
class Session:
    client: IPAddr
    client_port: int
    server: IPAddr
    server_port: int


def _address(text: str) -> IPAddr:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        raise Unreadable(f"{text!r} is not an IP address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # the packets on the wire are IPv4
    return addr


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise Unreadable(f"{text!r} is not a port")
    return int(text)


def parse(value: str) -> Session:
    """The four fields OpenSSH writes; anything else raises Unreadable."""
    parts = value.split()
    if len(parts) != 4:
        raise Unreadable(f"{len(parts)} fields, OpenSSH writes 4 (client address and port, "
                         "server address and port)")
    session = Session(_address(parts[0]), _port(parts[1]), _address(parts[2]), _port(parts[3]))
    if session.client.version != session.server.version:
        raise Unreadable("client and server addresses are of different IP versions")
    return session


def session_flow(host: Host, session: Session) -> Flow:
    """The session as a new connection arriving from the client; Unreadable when this host
    has no external interface of the session's IP version to bring it in."""
    ext = [(i, n) for i, a, n in external(host) if a.version == session.client.version]
    iface = next((i for i, n in ext if session.client in n), ext[0][0] if ext else None)
    if iface is None:
        raise Unreadable(f"no external IPv{session.client.version} interface on this host to "
                         "simulate the session through")
    return Flow("this SSH session", Endpoint(iface=iface, src=session.client), session.server,
                session.server_port, "tcp")


def cut_session(before: Host, after: Host, ssh_connection: str | None) -> FlowResult | None:
    """The after-result when the change would cut the session, else None; Unreadable when the
    value (or the session's path) cannot be understood."""
    if not ssh_connection or not ssh_connection.strip():
        return None
    flow = session_flow(before, parse(ssh_connection))
    was, will = Simulator(before).run(flow), Simulator(after).run(flow)
    return will if was.verdict == "allow" and will.verdict != "allow" else None
