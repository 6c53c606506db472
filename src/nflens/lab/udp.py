"""UDP in the lab: a UDP server in a container's network namespace, and UDP probes (issue 12
item 5).

Debian's static busybox nc has no UDP mode. A UDP flow is "allow" only when the server's token
comes *back* to the client: the client's socket is connected, so the kernel hands it only a
reply whose source is the address and port it sent to — a reply that was not un-NATed (the
container's own address as source) is not delivered and the flow is a "deny", as it is for
the client's application. An ICMP port unreachable fails at once ("Connection refused");
silence is a deny after the timeout.

Facts found by trying (socat 1.7.4.4): socat was the first choice on both sides and is not
reliable enough for a ground truth. A `socat UDP4-RECVFROM:PORT,fork` server forks a child per
datagram that keeps the *shared* listening socket while it lingers, so a later client's
datagram can be read by an old child, which drops it as coming from the wrong peer
(firewalld_zones: the RADIUS flow answered in one round of two). A `socat -t T - UDP4:...`
client waits `-t` after every request. So both sides are a few lines of the machine's Python:
the server is one process (no fork) answering every datagram from its bound socket — as a
RADIUS or DNS daemon does — started with nsenter in the container's network namespace (the
netfilter path is the container's; its image needs no interpreter) and recorded by the Lab
registry like any lab process; the client returns as soon as the reply is there.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from nflens.errors import ToolError
from nflens.proc import nsenter

SERVER = ("import socket, sys\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          "s.bind(('0.0.0.0', int(sys.argv[1])))\n"
          "token = sys.argv[2].encode() + b'\\n'\n"
          "while True:\n"
          "    data, peer = s.recvfrom(4096)\n"
          "    s.sendto(token, peer)\n")

CLIENT = ("import socket, sys\n"
          "addr, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])\n"
          "s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, "
          "socket.SOCK_DGRAM)\n"
          "s.settimeout(timeout)\n"
          "try:\n"
          "    if len(sys.argv) > 4: s.bind((sys.argv[4], 0))\n"
          "    s.connect((addr, port)); s.send(b'nflens-probe\\n')\n"
          "    sys.stdout.write(s.recv(4096).decode(errors='replace'))\n"
          "except OSError as exc:\n"
          "    sys.exit(f'{type(exc).__name__}: {exc}')\n")


def server_argv(port: int, token: str) -> list[str]:
    return [sys.executable, "-I", "-c", SERVER, str(port), token]


def start_server(lab: Any, container: Any, port: int, token: str) -> None:
    """The UDP server in `container`'s network namespace (`/proc/PID/ns/net`)."""
    container.reload()
    netns = f"/proc/{container.attrs['State']['Pid']}/ns/net"
    proc = lab.spawn(netns, server_argv(port, token),
                     log=lab.state_dir / f"udp-{container.name}-{port}.log")
    deadline = time.monotonic() + 10  # bound before the first probe (Python starts slowly)
    while time.monotonic() < deadline and proc.poll() is None:
        ss = lab.runner.run(nsenter(netns, ["ss", "-Hlun", f"sport = :{port}"]))
        if ss.stdout.strip():
            return
        time.sleep(0.05)
    raise ToolError(f"the UDP server of {container.name} did not bind port {port}")


def client_argv(addr: str, port: int, timeout: int, src: str | None = None) -> list[str]:
    """`src`: bind the client to that local address (a second LAN subnet's source)."""
    return [sys.executable, "-I", "-c", CLIENT, addr, str(port), str(timeout)] + (
        [src] if src else [])


def outcome(rc: int, out: str, err: str, started: float) -> tuple[str, str | None, str, float]:
    """A client's exit code and outputs as (outcome, token, detail, seconds); probes.from_netns
    runs the client."""
    token = next((w for w in out.split() if w.startswith("nflens:")), None)
    seconds = round(time.monotonic() - started, 3)
    if token:
        return "allow", token, "answered", seconds
    why = (err.strip().splitlines() or [f"exit {rc}, no reply"])[-1][:200]
    return "deny", None, why, seconds
