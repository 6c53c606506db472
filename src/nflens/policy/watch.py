"""`nflens policy watch`: follow Docker's events and re-apply when addresses can have changed.

The loop is split h11-style: `Debouncer` is a pure state machine fed (event, time) pairs and
asked "is an apply due at time t?"; `run` owns the I/O (an event source, a clock, the apply).
A burst of events (compose starting ten containers) gives one apply once the stream has been
quiet for `quiet` seconds, and never later than `max_wait` after the first event of the burst,
so a steady trickle cannot postpone it forever.

Relevant events: container start/die/stop/destroy/restart (addresses and port bindings come
and go) and network connect/disconnect/create/destroy (a container gets an address on another
bridge; a network brings a bridge).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

RELEVANT = {
    "container": {"start", "die", "stop", "destroy", "restart", "unpause"},
    "network": {"connect", "disconnect", "create", "destroy"},
}


def relevant(event: dict[str, Any]) -> bool:
    kind = event.get("Type") or event.get("type")
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
        if self.first is None:
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


def docker_events(docker_host: str | None):
    """Docker's event stream (docker SDK), container and network events only."""
    import docker

    from nflens.errors import ToolError

    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else \
            docker.from_env()
        return client.events(decode=True, filters={"type": ["container", "network"]})
    except docker.errors.DockerException as exc:
        raise ToolError(f"cannot follow Docker events: {exc}") from exc
