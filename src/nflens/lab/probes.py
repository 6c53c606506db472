"""Real connections through the real kernel: the ground truth the simulator is checked against.

A probe is an HTTP GET with busybox wget, from a client namespace, from the host namespace, or
from inside a container (`docker exec` through the SDK). Every server in a lab is busybox httpd
answering a token `nflens:<who>`, so the outcome is "allow" only when the connection was
established AND a token came back — a handshake alone is not enough. That matters: with
`userland-proxy=false` dockerd 20.10 still holds the published host port with a plain listening
socket (to reserve it) that accepts but never answers, and a docker-proxy whose backend is
unreachable accepts the connection and then closes it.

Timeouts are short and bounded twice: busybox `timeout` around wget (or the UDP client's socket
timeout) and the process runner's own, 3 s later; the runner's expiring is a "hard timeout"
deny. A client that cannot be started at all is no outcome: a ToolError, never a deny.
UDP is probed from namespaces only (lab/udp.py): busybox nc in Debian's static build has no
UDP mode, so a container has no UDP client.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nflens.errors import ToolError
from nflens.lab.netns import nsenter
from nflens.proc import LOCAL, ProcessRunner

TIMEOUT = 2


@dataclass(frozen=True)
class ProbeResult:
    outcome: str  # "allow" | "deny"
    token: str | None  # which server answered (nflens:web2, nflens:host, ...)
    detail: str
    seconds: float


def _url(addr: str, port: int) -> str:
    host = f"[{addr}]" if ":" in addr else addr
    return f"http://{host}:{port}/"


def wget_argv(addr: str, port: int, timeout: int = TIMEOUT, busybox: str | None = None
              ) -> list[str]:
    """busybox `timeout` bounds the whole exchange. Debian's busybox-static wget has no working
    `-T` (the option is not compiled in and crashes the applet), hence the outer timeout.
    On the host, `busybox` is passed so neither GNU timeout nor GNU wget is picked from PATH."""
    bb = [busybox] if busybox else []
    return bb + ["timeout", str(timeout)] + bb + ["wget", "-q", "-O-", _url(addr, port)]


def _result(rc: int, out: str, err: str, started: float) -> ProbeResult:
    token = next((w for w in out.split() if w.startswith("nflens:")), None)
    seconds = round(time.monotonic() - started, 3)
    if rc == 0 and token:
        return ProbeResult("allow", token, "answered", seconds)
    why = (err.strip().splitlines() or [f"exit {rc}"])[-1][:200]
    if rc in (143, -15, 124):  # busybox timeout sends SIGTERM
        why = "no answer before the timeout"
    elif rc == 0:
        why = f"no token in reply: {out.strip()[:80]!r}"
    return ProbeResult("deny", None, why, seconds)


def from_netns(ns: str, addr: str, port: int, proto: str = "tcp", timeout: int = TIMEOUT,
               src: str | None = None, runner: ProcessRunner = LOCAL) -> ProbeResult:
    """Connect from namespace `ns` (a client, or the host itself) with the host's busybox.
    `src`: the source address to send from (UDP only: busybox wget cannot bind one)."""
    if proto == "udp":
        from nflens.lab import udp

        argv = nsenter(ns, udp.client_argv(addr, port, timeout, src))
        return _bounded(runner, argv, timeout,
                        lambda *read: ProbeResult(*udp.outcome(*read)))
    if src is not None:
        raise ValueError(f"a chosen source address ({src}) is for UDP probes only")
    _tcp_only(proto)
    argv = nsenter(ns, wget_argv(addr, port, timeout, busybox="busybox"))
    result = _bounded(runner, argv, timeout, _result)
    if (result.outcome == "deny" and result.detail.startswith("no answer")
            and handshake(ns, addr, port, runner)):
        return ProbeResult("deny", None, "handshake completed, no reply data "
                           "(a listener that never answers)", result.seconds)
    return result


Reader = Callable[[int, str, str, float], ProbeResult]


def _bounded(runner: ProcessRunner, argv: list[str], timeout: int, read: Reader) -> ProbeResult:
    """Run a probe client with the runner's timeout as the second bound and `read` its exit
    code and outputs; the runner's timeout expiring is a deny of its own ("hard timeout")."""
    started = time.monotonic()
    proc = runner.run(argv, timeout=timeout + 3)
    if proc.timed_out:
        return ProbeResult("deny", None, "hard timeout", round(time.monotonic() - started, 3))
    if proc.error is not None:
        raise ToolError(f"cannot probe with {' '.join(argv)}: {proc.error}")
    return read(proc.returncode, proc.stdout, proc.stderr, started)


HANDSHAKE = ("import socket,sys\n"
             "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()\n"
             "except OSError: sys.exit(1)\n")


def handshake(ns: str, addr: str, port: int, runner: ProcessRunner = LOCAL) -> bool:
    """Did a TCP handshake complete? Tells "nothing reached" from "reached a mute listener"
    (dockerd's port reservation with userland-proxy=false accepts but never answers)."""
    argv = nsenter(ns, [sys.executable, "-I", "-c", HANDSHAKE, addr, str(port)])
    proc = runner.run(argv, timeout=4)
    if proc.error is not None and not proc.timed_out:
        raise ToolError(f"cannot probe with {' '.join(argv)}: {proc.error}")
    return proc.ok


def from_container(container: Any, addr: str, port: int, proto: str = "tcp",
                   timeout: int = TIMEOUT) -> ProbeResult:
    """Connect from inside `container` (a docker SDK Container) with the image's busybox wget
    (TCP only: the image has no UDP client)."""
    _tcp_only(proto)
    started = time.monotonic()
    res = container.exec_run(wget_argv(addr, port, timeout), demux=True)
    out, err = res.output if isinstance(res.output, tuple) else (res.output, b"")
    return _result(res.exit_code, (out or b"").decode(errors="replace"),
                   (err or b"").decode(errors="replace"), started)


def _tcp_only(proto: str) -> None:
    if proto != "tcp":
        raise ValueError(f"lab probes from a container speak TCP only, not {proto}")
