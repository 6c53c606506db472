"""Refuse a change that would cut the SSH session it is typed in (seed 003's warning: "one
mistake and SSH is gone the same instant").

`SSH_CONNECTION` ("client_ip client_port server_ip server_port", set by sshd) names the session.
The session's connection is simulated before and after the change as a new connection from
the client: if it was allowed and would no longer be, the apply is refused unless --force.
(A session already established survives a drop of *new* connections only by luck of the rule
order; the policy's "replies" rule comes first, but other rules need not.)
"""

from __future__ import annotations

import ipaddress

from nflens.ir.host import Host
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.policy.flows import external


def session_flow(host: Host, ssh_connection: str) -> Flow | None:
    parts = ssh_connection.split()
    if len(parts) != 4:
        return None
    try:
        client, server = ipaddress.ip_address(parts[0]), ipaddress.ip_address(parts[2])
        port = int(parts[3])
    except ValueError:
        return None
    ext = [(i, n) for i, a, n in external(host) if a.version == client.version]
    iface = next((i for i, n in ext if client in n), ext[0][0] if ext else None)
    if iface is None:
        return None
    return Flow("this SSH session", Endpoint(iface=iface, src=client), server, port, "tcp")


def cut_session(before: Host, after: Host, ssh_connection: str | None) -> FlowResult | None:
    """The after-result when the change would cut the session, else None."""
    if not ssh_connection:
        return None
    flow = session_flow(before, ssh_connection)
    if flow is None:
        return None
    was, will = Simulator(before).run(flow), Simulator(after).run(flow)
    return will if was.verdict == "allow" and will.verdict != "allow" else None
