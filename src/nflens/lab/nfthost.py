"""A native-nftables host built by hand in network namespaces: no dockerd, the kernel only.

Why: a host whose firewall is nftables text — a hand-written /etc/nftables.conf, or Docker
29's `ip docker-bridges` (lab/docker29.py: Debian has no Docker 29 to run) — is proven the way
every lab fixture is: build the topology, load the ruleset with `nft -f`, open real
connections and record what the kernel did. The standard lab topology (lab/topology.py: a LAN
and a WAN client) surrounds a host that has Linux bridges and, behind each, guest namespaces
(a container's or a VM's network namespace: veth `eth0` with its address and a default route
via the bridge) running busybox httpd answering `nflens:<guest>`. Where Docker would run
docker-proxy for a published port, the host runs the real `docker-proxy` binary (Debian's
docker.io 20.10 ships it; it binds the host port itself and connects to the container), so
`ss.txt` shows what a Docker host shows.

br_netfilter: Docker 29 loads it only for icc=false or userland-proxy=false (moby
drivers/bridge/bridge_linux.go, enableBrNfCallIptables); the machine has it loaded, so the
host namespace sets bridge-nf-call-ip(6)tables to 0 — the kernel then behaves as on a host
without it, and sysctl.txt says 0.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens.errors import ToolError
from nflens.lab import probes, topology
from nflens.lab.mountns import HostMounts
from nflens.lab.netns import Lab, run_in
from nflens.lab.scenarios import FlowSpec
from nflens.proc import Completed

DOCKER_PROXY = Path("/usr/sbin/docker-proxy")


@dataclass(frozen=True)
class Guest:
    """A namespace behind bridge `bridge`: a container (`container=True`: flows from it are
    `{"container": name}`) or a VM (flows from it name the bridge as their interface)."""

    name: str
    bridge: str
    cidr: str  # "172.17.0.2/16"
    gateway: str
    ports: tuple[int, ...] = (80,)
    container: bool = True
    cidr6: str = ""  # an IPv6 address too ("fd17::2/64"), routed via `gateway6`
    gateway6: str = ""

    @property
    def addr(self) -> str:
        return self.cidr.split("/")[0]

    @property
    def veth(self) -> str:
        return "veth" + hashlib.sha256(self.name.encode()).hexdigest()[:7]


@dataclass(frozen=True)
class Proxy:
    """docker-proxy: host_ip:host_port -> addr:port."""

    host_ip: str
    host_port: int
    addr: str
    port: int


@dataclass(frozen=True)
class NftHost:
    """What to build: bridges (name, gateway cidr), guests, proxies, host services, the
    ruleset (nft text, loaded after everything is up) and the flows to probe."""

    name: str
    title: str
    ruleset: str
    flows: tuple[FlowSpec, ...]
    bridges: tuple[tuple[str, str], ...] = ()  # (name, address/prefix); a name may repeat
    guests: tuple[Guest, ...] = ()
    proxies: tuple[Proxy, ...] = ()
    host_services: tuple[int, ...] = (8000,)
    files: dict[str, Any] = field(default_factory=dict)  # extra snapshot files (Docker's)
    persist: dict[str, str] = field(default_factory=dict)  # persist/PATH -> text
    ipv6: bool = False  # the LAN and WAN carry IPv6 too (lab/topology.py)


@dataclass
class Built:
    lab: Lab
    spec: NftHost
    topo: topology.Topology
    guests: dict[str, str]  # guest name -> namespace
    mounts: HostMounts | None = None  # a private mount namespace with its own /etc files

    @property
    def host(self) -> str:
        return self.topo.host

    def sh(self, line: str, stdin: str | None = None) -> str:
        """One shell line in the host namespace (and its private mount namespace)."""
        return self.run(["sh", "-c", line], stdin).stdout

    def run(self, argv: list[str], stdin: str | None = None) -> Completed:
        mount = self.mounts.file if self.mounts is not None else None
        return run_in(self.host, argv, runner=self.lab.runner, stdin=stdin, mount=mount)

    def etc_file(self, path: str) -> Path | None:
        """Where the host's own /etc/`path` is, in its /etc overlay's writable layer (None:
        the host has not written that file)."""
        if self.mounts is None or not (self.mounts.etc_upper / path).exists():
            return None
        return self.mounts.etc_upper / path


def build(lab: Lab, spec: NftHost, private_etc: bool = False) -> Built:
    """The host, its clients, bridges, guests and proxies; then the ruleset. `private_etc`:
    the host gets a private mount namespace whose /etc holds its own copies of the spec's
    persist/etc files (a fix may edit them; the machine's stay untouched)."""
    topo = topology.build(lab, ipv6=spec.ipv6)
    built = Built(lab, spec, topo, {})
    if private_etc:
        built.mounts = _private_etc(lab, topo.host, spec)
    for port in spec.host_services:
        topo.host_service(port)
    for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
        built.sh(f"[ ! -e /proc/sys/net/bridge/{key} ] || sysctl -q -w net.bridge.{key}=0")
    for i, (name, cidr) in enumerate(spec.bridges):
        if all(other != name for other, _ in spec.bridges[:i]):
            built.sh(f"ip link add {name} type bridge && ip link set {name} up")
        nodad = " nodad" if ":" in cidr else ""  # usable at once
        built.sh(f"ip addr add {cidr} dev {name}{nodad}")
    for g in spec.guests:
        _guest(built, g)
    for p in spec.proxies:
        if not DOCKER_PROXY.exists():
            raise ToolError(f"{DOCKER_PROXY} is missing (Debian's docker.io ships it)")
        # fd 3 is the pipe dockerd reads "0" (ready) from; without one the proxy's close of
        # fd 3 would close its own listener (libnetwork cmd/proxy main.go, 20.10)
        argv = [str(DOCKER_PROXY), "-proto", "tcp", "-host-ip", p.host_ip, "-host-port",
                str(p.host_port), "-container-ip", p.addr, "-container-port", str(p.port)]
        lab.spawn(topo.host, ["sh", "-c", 'exec "$@" 3>/dev/null', "docker-proxy", *argv])
    built.sh("nft -f -", stdin=spec.ruleset)
    _wait_listening(built)
    return built


def _private_etc(lab: Lab, ns: str, spec: NftHost) -> HostMounts:
    """A private /etc (an overlay of the machine's) holding the spec's /etc files. An overlay,
    not bind-mounted copies: a fix may write new files there (/etc/nflens.nft) or replace
    one by a rename (`mv NEW /etc/nftables.conf`, which a bind-mounted file refuses with
    EBUSY), as on a real host. The files go into the writable layer before it is mounted."""
    mounts = HostMounts(lab, ns)
    for p in (p for p in spec.persist if p.startswith("etc/")):
        path = mounts.etc_upper / p.removeprefix("etc/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(spec.persist[p])
    mounts.create(etc_overlay=True)
    return mounts


def _guest(built: Built, g: Guest) -> None:
    lab = built.lab
    ns = lab.add_netns("g-" + g.name)
    built.guests[g.name] = ns
    lab.add_veth(built.host, g.veth, ns, "eth0")
    built.sh(f"ip link set {g.veth} master {g.bridge}")
    lab.add_addr(ns, "eth0", g.cidr)
    lab.add_route(ns, "0.0.0.0/0", g.gateway)
    if g.cidr6:
        lab.add_addr(ns, "eth0", g.cidr6)
        lab.add_route(ns, "::/0", g.gateway6)
    for port in g.ports:
        built.topo.serve_http(ns, port, f"nflens:{g.name}")
    if not g.container:  # a VM: flows from it arrive on its bridge
        built.topo.clients[g.bridge] = ns
        built.topo.client_addrs[g.bridge] = [g.addr]


def _wait_listening(built: Built, timeout: float = 10) -> None:
    """Every server and proxy bound before the first probe (they start asynchronously)."""
    want = [(built.host, p.host_port) for p in built.spec.proxies]
    want += [(built.host, p) for p in built.spec.host_services]
    want += [(built.guests[g.name], p) for g in built.spec.guests for p in g.ports]
    deadline = time.monotonic() + timeout
    for ns, port in want:
        while run_in(ns, ["ss", "-Htln", f"sport = :{port}"], runner=built.lab.runner
                     ).stdout.strip() == "":
            if time.monotonic() > deadline:
                raise ToolError(f"nothing listens on port {port} in {ns}")
            time.sleep(0.05)


def probe(built: Built, flow: FlowSpec) -> probes.ProbeResult:
    runner = built.lab.runner
    if flow.src == "host":
        return probes.from_netns(built.host, flow.addr, flow.port, flow.proto, runner=runner)
    if flow.src.startswith("container:"):
        ns = built.guests[flow.src.split(":", 1)[1]]
        return probes.from_netns(ns, flow.addr, flow.port, flow.proto, runner=runner)
    return probes.from_netns(built.topo.client_for(flow.src), flow.addr, flow.port, flow.proto,
                             src=flow.saddr or None, runner=runner)


def probe_all(built: Built, flows: tuple[FlowSpec, ...] | None = None, rounds: int = 2
              ) -> dict[str, list[probes.ProbeResult]]:
    """Each flow `rounds` times, round after round (a full pass between repeats)."""
    flows = built.spec.flows if flows is None else flows
    out: dict[str, list[probes.ProbeResult]] = {f.name: [] for f in flows}
    for _ in range(rounds):
        for f in flows:
            out[f.name].append(probe(built, f))
    return out


def outcome(rounds: list[probes.ProbeResult]) -> str:
    allow = sum(r.outcome == "allow" for r in rounds)
    return "allow" if allow * 2 > len(rounds) else "deny"


def snapshot(built: Built, out: Path) -> None:
    """CONTRACT §2 files of the host namespace, the spec's Docker files and persist/."""
    from nflens.lab.run import trim_sysctl
    from nflens.snapshot.collect import collect

    out.mkdir(parents=True, exist_ok=True)
    collect(out, netns=built.host, runner=built.lab.runner)
    trim_sysctl(out / "sysctl.txt")
    # collect names the Docker files it could not ask for; the spec supplies them
    (out / "collect-missing.txt").unlink(missing_ok=True)
    for name, value in built.spec.files.items():
        (out / name).write_text(json.dumps(value, indent=1) + "\n")
    for path, text in built.spec.persist.items():
        copy = built.etc_file(path.removeprefix("etc/")) if path.startswith("etc/") else None
        text = copy.read_text() if copy is not None else text
        dest = out / "persist" / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)


def write_golden(built: Built, out: Path, rounds: int = 2) -> dict[str, str]:
    """Snapshot, flows.json, probes, expected.json, lab.json; returns the kernel's verdicts."""
    if out.exists():
        shutil.rmtree(out)
    snapshot(built, out)
    flows = [f.contract(built.topo.client_addrs) for f in built.spec.flows]
    (out / "flows.json").write_text(json.dumps({"flows": flows}, indent=1) + "\n")
    results = probe_all(built, rounds=rounds)
    expected = {name: outcome(rs) for name, rs in results.items()}
    flaky = [n for n, rs in results.items() if len({r.outcome for r in rs}) > 1]
    (out / "expected.json").write_text(json.dumps(
        {"expected": expected, "flaky": flaky, "setup": built.spec.ruleset}, indent=1) + "\n")
    lab = {"host": built.spec.name, "title": built.spec.title,
           "probes": {n: [{"outcome": r.outcome, "token": r.token, "detail": r.detail}
                          for r in rs] for n, rs in results.items()}}
    (out / "lab.json").write_text(json.dumps(lab, indent=1) + "\n")
    return expected
