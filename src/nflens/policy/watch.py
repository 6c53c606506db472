"""`nflens policy watch`: follow Docker's events and re-apply when addresses can have changed.

The loop is split h11-style: `Debouncer` is a pure state machine fed (event, time) pairs and
asked "is an apply due at time t?"; `run` owns the I/O (an event source, a clock, the apply).
A burst of events (compose starting ten containers) gives one apply once the stream has been
quiet for `quiet` seconds, and never later than `max_wait` after the first event of the burst,
so a steady trickle cannot postpone it forever.

Relevant events: container start/die/stop/destroy/restart (addresses and port bindings come
and go) and network connect/disconnect/create/destroy (a container gets an address on another
bridge; a network brings a bridge).

Docker restarts: the event stream ends when dockerd stops. `follow` then waits until the daemon
answers again, subscribes anew and yields a `daemon reconnect` event, which is relevant: Docker
rewrote its chains and its containers may have come back with other addresses. (Before, watch
returned when the stream ended -- with exit status 0 -- and the containers started after the
restart were no longer covered; found in the lab.)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

RELEVANT = {
    "container": {"start", "die", "stop", "destroy", "restart", "unpause"},
    "network": {"connect", "disconnect", "create", "destroy"},
    "daemon": {"reconnect"},  # made by `follow`, not by Docker
}
RECONNECTED = {"Type": "daemon", "Action": "reconnect"}


def relevant(event: dict[str, Any]) -> bool:
    kind = event.get("Type") or event.get("type") or ""
    action = (event.get("Action") or event.get("status") or "").split(":")[0]
    return action in RELEVANT.get(kind, set())


@dataclass
class Debouncer:
    quiet: float = 2.0
    max_wait: float = 10.0
    first: float | None = None
    last: float | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)

    def feed(self, event: dict[str, Any], now: float) -> None:
        if not relevant(event):
            return
        self.first = now if self.first is None else self.first
        self.last = now
        self.seen.append(event)

    def due(self, now: float) -> bool:
        if self.first is None or self.last is None:  # set together by feed()
            return False
        return now - self.last >= self.quiet or now - self.first >= self.max_wait

    def take(self) -> list[dict[str, Any]]:
        """The events of the burst that is being applied; the debouncer starts afresh."""
        seen, self.seen, self.first, self.last = self.seen, [], None, None
        return seen


def run(events: Iterable[dict[str, Any]], apply: Callable[[list[dict[str, Any]]], None],
        clock: Callable[[], float] = time.monotonic, quiet: float = 2.0, max_wait: float = 10.0,
        tick: float = 0.2, stop: Callable[[], bool] = lambda: False) -> None:
    """Feed events (read on a thread, so the clock keeps running while Docker is silent) and
    call `apply(burst)` whenever the debouncer says so. Ends when the stream ends (after a
    last due apply) or `stop()` is true."""
    inbox: queue.Queue = queue.Queue()
    done = object()

    def reader() -> None:
        try:
            for ev in events:
                inbox.put(ev)
        finally:
            inbox.put(done)

    threading.Thread(target=reader, daemon=True).start()
    deb = Debouncer(quiet, max_wait)
    ended = False
    while not stop():
        try:
            item = inbox.get(timeout=tick)
            if item is done:
                ended = True
            else:
                deb.feed(item, clock())
        except queue.Empty:
            pass
        if deb.due(clock()) or (ended and deb.first is not None):
            apply(deb.take())
        if ended:
            return


def follow(connect: Callable[[], Iterable[dict[str, Any]]], retry: float = 1.0,
           stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
           log: Callable[[str], None] = lambda msg: None) -> Iterator[dict[str, Any]]:
    """The events of one stream after another, across daemon restarts: when a stream ends or
    breaks, `connect()` is retried every `retry` seconds until the daemon answers; every stream
    after the first one starts with RECONNECTED. Ends only when `stop()` is true."""
    streams = 0
    waiting = False
    while not stop():
        try:
            stream = connect()
        except Exception as exc:  # noqa: BLE001 - the daemon is down or starting
            if not waiting:
                log(f"waiting for Docker: {' '.join(str(exc).split())[:200]}")
            waiting = True
            sleep(retry)
            continue
        waiting = False
        if streams:
            log("Docker answers again: re-applying")
            yield dict(RECONNECTED)
        streams += 1
        try:
            yield from stream
        except Exception:  # noqa: BLE001 - the connection broke: same as the stream ending
            pass
        if not stop():
            log("Docker's event stream ended (daemon stopped?)")


def docker_connect(docker_host: str | None) -> Callable[[], Iterable[dict[str, Any]]]:
    """A `connect` for `follow`: ping the daemon, then its container and network events."""

    def connect() -> Iterable[dict[str, Any]]:
        import docker

        client = docker.DockerClient(base_url=docker_host) if docker_host else \
            docker.from_env()
        client.ping()
        return client.events(decode=True, filters={"type": ["container", "network"]})

    return connect
