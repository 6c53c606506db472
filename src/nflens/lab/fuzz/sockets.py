"""Real sockets in the fuzzing namespaces, opened from this process.

Why in-process: a fuzz run opens tens of thousands of connections; a subprocess per probe
(nsenter + a client) would cost more than the kernel work itself. A socket belongs to the
network namespace it was created in, whatever the thread does afterwards, so the calling thread
enters a namespace with setns(2) just long enough to create (and bind) a socket, then returns to
its own. Only the thread's namespace changes — never the process's or the root namespace's
state. Servers are served by one thread with a selector: TCP listeners accept and close (the
handshake is the proof of reachability), UDP sockets echo one datagram back. UDP listens on
each address separately: a wildcard socket would answer from the route's preferred source,
not from the address asked, and the client's connected socket would drop that answer.

Outcome of a probe, as the contract defines allow: TCP — the handshake completed (connect()
succeeded: SYN reached a listener and SYN/ACK came back); UDP — the echo came back. A refusal
(RST, ICMP error) or silence until the deadline is deny. All probes of a case run at once,
so a case costs one deadline at most.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import cast

from nflens.lab.fuzz.flows import ProbeSpec
from nflens.lab.netns import NETNS_DIR

CLONE_NEWNET = 0x40000000
IP_TRANSPARENT = 19  # include/uapi/linux/in.h
SETTLE = 0.05  # seconds after the last handshake for a late RST to arrive
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def entered(ns: str) -> Iterator[None]:
    """This thread inside namespace `ns` for the duration of the block."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {ns}: {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:  # cannot fail for our own namespace fd
                os._exit(70)
    finally:
        os.close(target)
        os.close(own)


@contextlib.contextmanager
def _fsuid(uid: int) -> Iterator[None]:
    """Sockets made in the block owned by `uid`: sock_alloc takes the inode's uid (ss -e's
    uid:) and the file its credentials (xt_owner's f_cred->fsuid) from current_fsuid().
    setfsuid(2) changes only the calling thread's credentials (glibc does not broadcast it)."""
    if uid == 0:
        yield
        return
    _libc.setfsuid(uid)
    try:
        yield
    finally:
        _libc.setfsuid(0)


def _family(addr: str | None, version: int) -> int:
    return socket.AF_INET6 if (addr and ":" in addr) or version == 6 else socket.AF_INET


class Servers:
    """Listeners on every port in every namespace given; one thread serves them all."""

    def __init__(self, namespaces: dict[str, tuple[list[str], tuple[int, ...]]],
                 special: dict[str, list[tuple[int, str | None, int]]] | None = None,
                 transparent: dict[str, tuple[int, ...]] | None = None):
        """`namespaces`: namespace -> (its addresses (UDP binds each one), its ports).
        `special`: namespace -> (port, device bound to or None, owner uid) listeners more,
        on the same addresses. `transparent`: namespace -> ports of TCP listeners on 0.0.0.0
        with IP_TRANSPARENT (a TPROXY target)."""
        self.sel = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        for ns, (addrs, ports) in namespaces.items():
            extra = (special or {}).get(ns, [])
            with entered(ns):
                for port, dev, uid in [(p, None, 0) for p in ports] + extra:
                    with _fsuid(uid):
                        self._listen_port(addrs, port, dev)
                for port in (transparent or {}).get(ns, ()):
                    self._listen(socket.AF_INET, "0.0.0.0", port, socket.SOCK_STREAM,
                                 transparent=True)
        self._start()

    def _listen_port(self, addrs: list[str], port: int, dev: str | None) -> None:
        for fam, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            self._listen(fam, any_addr, port, socket.SOCK_STREAM, dev)
        for addr in addrs:
            self._listen(_family(addr, 4), addr, port, socket.SOCK_DGRAM, dev)

    def _start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fuzz-servers", daemon=True)
        self._thread.start()

    def _listen(self, fam: int, addr: str, port: int, kind: int, dev: str | None = None,
                transparent: bool = False) -> None:
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if transparent:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        if dev is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        if kind == socket.SOCK_STREAM:
            s.listen(1024)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, kind)
        self.socks.append(s)

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                s = cast(socket.socket, key.fileobj)  # only sockets are registered
                with contextlib.suppress(OSError):
                    if key.data == socket.SOCK_STREAM:
                        conn, _ = s.accept()
                        conn.close()
                    else:
                        data, peer = s.recvfrom(2048)
                        s.sendto(data, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for s in self.socks:
            s.close()
        self.sel.close()


def _open(spec: ProbeSpec, ns: str, version: int) -> socket.socket:
    fam = _family(spec.dst, version)
    kind = socket.SOCK_STREAM if spec.proto == "tcp" else socket.SOCK_DGRAM
    with entered(ns):
        s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((spec.src or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), spec.sport))
    except OSError as exc:
        s.close()
        raise OSError(exc.errno, f"bind {spec.src}:{spec.sport} in {ns}: {exc.strerror}") from exc
    s.setblocking(False)
    return s


def probe_all(specs: list[ProbeSpec], ns_of: dict[str, str], version: int,
              deadline: float = 0.4) -> dict[str, str]:
    """Open every probe at once; return name -> "allow" | "deny" (with the errno in detail)."""
    sel = selectors.DefaultSelector()
    outcome: dict[str, str] = {}
    socks = []
    try:
        for spec in specs:
            s = _open(spec, ns_of[spec.role], version)
            socks.append(s)
            if spec.proto == "tcp":
                rc = s.connect_ex((spec.dst, spec.dport))
                if rc not in (0, errno.EINPROGRESS):
                    outcome[spec.name] = "deny"
                    continue
                sel.register(s, selectors.EVENT_WRITE, spec)
            else:
                try:
                    s.connect((spec.dst, spec.dport))
                except OSError:  # no route: EINVAL (blackhole), ENETUNREACH, EACCES (prohibit)
                    outcome[spec.name] = "deny"
                    continue
                with contextlib.suppress(OSError):
                    s.send(b"nflens-fuzz")
                sel.register(s, selectors.EVENT_READ, spec)
        end = time.monotonic() + deadline
        while len(outcome) < len(specs):
            left = end - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(timeout=left):
                spec, s = key.data, cast(socket.socket, key.fileobj)  # only sockets registered
                sel.unregister(s)
                if spec.proto == "tcp":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    outcome[spec.name] = "allow" if err == 0 else "deny"
                else:
                    try:
                        outcome[spec.name] = "allow" if s.recv(2048) else "deny"
                    except OSError:
                        outcome[spec.name] = "deny"
        for spec in specs:
            outcome.setdefault(spec.name, "deny")  # silence until the deadline
        # A RST answering the handshake's ACK lands just after connect() succeeded: give it
        # time, then a reset connection is not established either.
        time.sleep(SETTLE)
        for spec, s in zip(specs, socks):
            if spec.proto == "tcp" and outcome[spec.name] == "allow" and \
                    s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                outcome[spec.name] = "deny"
    finally:
        sel.close()
        for s in socks:
            s.close()
    return outcome
