"""Routing decisions on a tiny real-kernel host: policy rules, source routing, marks, rp_filter.

The differential fuzzer's world (lab/fuzz/world.py: client A — router R — client B) with the
fuzzer's listeners, but each scenario sets the router's routing up by hand (`ip rule`, extra
tables with blackhole routes, sysctls) and loads its rules with iptables-restore / nft -f. Every
flow is probed on the kernel twice (fresh source ports, conntrack flushed in between); the two
must agree, or the scenario is unfit for a verdict. The snapshot is taken with nflens's own
collector inside the router's namespace, and nflens's verdict is compared with the kernel's.
A scenario undoes its setup afterwards (the lab removes the namespaces in any case).
"""

from __future__ import annotations

import ctypes
import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from nflens.flows import flow_from_dict
from nflens.kernel.simulate import FlowResult, Simulator
from nflens.lab.fuzz.flows import ProbeSpec
from nflens.lab.fuzz.runner import _feed
from nflens.lab.fuzz.sockets import Servers, entered, probe_all
from nflens.lab.fuzz.world import World, addresses, build, listening_ports
from nflens.lab.netns import Lab, run_in
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot


@dataclass
class Scenario:
    """Commands run in the router's namespace (`setup`, then `undo`), the rules to load,
    sysctls to set (and reset), and the flows to probe."""

    name: str
    setup: list[list[str]]
    undo: list[list[str]]
    probes: list[ProbeSpec]
    iptables: str | None = None
    nft: str | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)


@dataclass(frozen=True)
class Listener:
    """An extra TCP listener in the router: bound to `dev` (SO_BINDTODEVICE) and owned by
    `uid` (the thread's fsuid when the socket is made). The kernel completes handshakes
    into its backlog without accept(), which is all a probe needs."""

    addr: str
    port: int
    dev: str | None = None
    uid: int = 0


@dataclass
class Outcome:
    """One scenario's result: per flow the kernel's two outcomes and nflens's result."""

    kernel: dict[str, tuple[str, str]]
    nflens: dict[str, FlowResult]

    def kernel_verdict(self, name: str) -> str:
        first, second = self.kernel[name]
        return first if first == second else f"flaky ({first}/{second})"

    def verdicts(self) -> dict[str, tuple[str, str]]:
        """flow -> (kernel, nflens)."""
        return {n: (self.kernel_verdict(n), self.nflens[n].verdict) for n in self.kernel}


@contextmanager
def world() -> Iterator[World]:
    """The three namespaces with listeners on every port, torn down at the end."""
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-decisions-") as tmp:
        static = Path(tmp) / "static"
        static.mkdir()
        w = build(lab, static)
        servers = Servers({w.ns[role]: (addresses(role, 4) + addresses(role, 6),
                                        listening_ports(role)) for role in ("a", "b", "r")})
        try:
            yield w
        finally:
            servers.close()


def run(w: World, sc: Scenario, snap: Path) -> Outcome:
    """Set the scenario up, probe it twice, snapshot it, simulate it, undo it."""
    r, runner = w.ns["r"], w.lab.runner
    saved = {k: run_in(r, ["sysctl", "-n", k], runner=runner).stdout.strip() for k in sc.sysctls}
    socks = [_listen(r, spec) for spec in sc.listeners]
    try:
        for key, value in sc.sysctls.items():
            w.lab.sysctl(r, key, value)
        for argv in sc.setup:
            run_in(r, argv, runner=runner)
        run_in(r, ["nft", "flush", "ruleset"], runner=runner)
        if sc.iptables:
            _feed(runner, r, ["iptables-restore"], sc.iptables)
        if sc.nft:
            _feed(runner, r, ["nft", "-f", "-"], sc.nft)
        kernel = _probe_twice(w, sc.probes)
        collect(snap, netns=r, runner=runner)
        sim = Simulator(read_snapshot(snap))
        nflens = {p.name: sim.run(flow_from_dict(p.flow_json(), f"{snap}/flows.json"))
                  for p in sc.probes}
    finally:
        for sock in socks:
            sock.close()
        run_in(r, ["nft", "flush", "ruleset"], runner=runner)
        for argv in sc.undo:
            run_in(r, argv, check=False, runner=runner)
        for key, value in saved.items():
            w.lab.sysctl(r, key, value)
    return Outcome(kernel, nflens)


SO_BINDTODEVICE = 25
_libc = ctypes.CDLL(None, use_errno=True)


def _listen(ns: str, spec: Listener) -> socket.socket:
    """setfsuid is per thread (the socket takes the creator's fsuid as its owner)."""
    with entered(ns):
        _libc.setfsuid(spec.uid)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _libc.setfsuid(0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if spec.dev:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, spec.dev.encode())
    sock.bind((spec.addr, spec.port))
    sock.listen(64)
    return sock


def save_fixture(dest: Path, snap: Path, sc: Scenario, out: Outcome,
                 uncertain: tuple[str, ...] = ()) -> None:
    """The scenario as a replayable fixture: the snapshot, flows.json, and in expected.json
    the kernel's outcomes plus the flows where nflens is to say `uncertain`."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snap, dest)
    (dest / "collect-missing.txt").unlink(missing_ok=True)
    (dest / "flows.json").write_text(json.dumps(
        {"flows": [p.flow_json() for p in sc.probes]}, indent=1) + "\n")
    (dest / "expected.json").write_text(json.dumps(
        {"expected": {n: out.kernel_verdict(n) for n in out.kernel},
         "uncertain": list(uncertain),
         "setup": [" ".join(a) for a in sc.setup] + [f"sysctl {k}={v}" for k, v in
                                                      sc.sysctls.items()],
         "rules": {"iptables": sc.iptables, "nft": sc.nft}}, indent=1) + "\n")


def _probe_twice(w: World, probes: list[ProbeSpec]) -> dict[str, tuple[str, str]]:
    """Each flow twice; the second time from the next source port (no TIME_WAIT clash)."""
    runs = []
    for shift in (0, 1):
        run_in(w.ns["r"], ["conntrack", "-F"], check=False, runner=w.lab.runner)
        specs = [replace(p, sport=p.sport + shift) for p in probes]
        got = probe_all(specs, w.ns, 4, deadline=0.5)
        runs.append(got)
    return {p.name: (runs[0][p.name], runs[1][p.name]) for p in probes}


def flow(name: str, role: str, src: str | None, dst: str, dport: int, proto: str = "tcp",
         sport: int = 30000) -> ProbeSpec:
    """A probe of the fuzz world: `role` a, b (clients, bound to `src`) or r (the router)."""
    return ProbeSpec(name, role, src, sport, dst, dport, proto)
