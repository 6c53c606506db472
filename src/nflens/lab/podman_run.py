"""Podman lab scenarios (issue 27): the seed stories that fit a rootful Podman host, probed on
the real kernel, snapshotted with `snapshot collect` inside the host, written as fixtures.

Each scenario runs on every (podman version, netavark firewall driver) of COMBOS: podman 4.3.1
with netavark 1.4.0 (iptables only) and podman 5.8.6 with netavark 1.17.2 on iptables and on
nftables. The topology, the probes and the two-round majority are the Docker lab's
(lab/topology.py, lab/probes.py, lab/run.py probe_all); a container probe runs busybox wget
through `podman exec`.

Record every fixture: `python -m nflens.lab.podman_run OUT_ROOT` (tests/fixtures/podman).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens.lab import hostfw, run, topology
from nflens.lab.netns import Lab
from nflens.lab.podman import Podman, PodmanConfig
from nflens.lab.scenarios import FlowSpec

COMBOS = (PodmanConfig("4", "iptables"), PodmanConfig("5", "iptables"),
          PodmanConfig("5", "nftables"))
SECRET = "NFLENS_SECRET=do-not-collect-me"
NET = ("web", "10.213.213.0/24", "10.213.213.1")


@dataclass(frozen=True)
class PodmanScenario:
    name: str
    story: str
    build: Callable[[Podman], None]
    flows: tuple[FlowSpec, ...]
    setup: tuple[str, ...] = ()


@dataclass
class _Exec:
    exit_code: int
    output: tuple[bytes, bytes]


@dataclass
class PodmanContainer:
    """What lab/probes.from_container needs of a container: exec_run, through `podman exec`."""

    podman: Podman
    name: str

    def exec_run(self, argv: list[str], demux: bool = True) -> _Exec:
        proc = self.podman.exec(self.name, argv)
        return _Exec(proc.returncode, (proc.stdout.encode(), proc.stderr.encode()))


@dataclass
class PodmanContext:
    """The fields of run.LabContext that run.probe_all reads."""

    lab: Lab
    topo: topology.Topology
    podman: Podman
    containers: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.topo.host


def _web(pm: Podman) -> None:
    pm.network(*NET)
    # an environment value no snapshot may hold (snapshot/podmanfiles.py)
    pm.run_server("web2", 80, "web", "10.213.213.2", ("8080:80",), "-e", SECRET)
    pm.run_server("web3", network="web", ip="10.213.213.3", publish=("8081:80",))


INPUT_POLICY = ("iptables -P INPUT DROP", "iptables -A INPUT -i lo -j ACCEPT",
                "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "iptables -A INPUT -i eth0 -p tcp --dport 22 -j ACCEPT")


def _flows(text: str) -> tuple[FlowSpec, ...]:
    """`NAME SOURCE ADDR:PORT` per line (tcp): the flows of a scenario, one line each."""
    out = []
    for line in text.strip().splitlines():
        name, src, to = line.split()
        addr, _, port = to.rpartition(":")
        out.append(FlowSpec(name, src, addr, int(port)))
    return tuple(out)


SCENARIOS = {s.name: s for s in (
    PodmanScenario(
        "input-bypass", "seed 001 on Podman: an INPUT DROP policy (ufw-like) is meant to close "
        "the host; the published port is DNATed in PREROUTING and forwarded: INPUT never sees it",
        _web, _flows("""wan-web2 eth1 198.51.100.1:8080
                        lan-web2 eth0 10.99.0.1:8080
                        wan-hostsvc eth1 198.51.100.1:8000
                        lan-hostsvc eth0 10.99.0.1:8000
                        host-web2 host 127.0.0.1:8080"""), INPUT_POLICY),
    PodmanScenario(
        "dnat-port", "seed 004 on Podman: a FORWARD drop on the host port 8080 never matches "
        "(after DNAT the port is 80); the rule on the container's address and port 80 does",
        _web, _flows("""wan-web2 eth1 198.51.100.1:8080
                        wan-web3 eth1 198.51.100.1:8081
                        lan-web3 eth0 10.99.0.1:8081"""),
        ("iptables -I FORWARD -i eth1 -p tcp --dport 8080 -j DROP",
         "iptables -I FORWARD -i eth1 -d 10.213.213.3 -p tcp --dport 80 -j DROP")),
    PodmanScenario(
        "egress", "seed 003 on Podman: containers may reach the LAN but not the WAN (a FORWARD "
        "drop by source and out-interface, before netavark's accept)",
        _web, _flows("""web2-wan container:web2 198.51.100.2:80
                        web2-lan container:web2 10.99.0.2:80
                        web2-host container:web2 10.213.213.1:8000"""),
        ("iptables -I FORWARD -s 10.213.213.0/24 -o eth1 -j DROP",)),
)}


def build(lab: Lab, sc: PodmanScenario, config: PodmanConfig) -> PodmanContext:
    topo = topology.build(lab)
    topo.host_service(8000)
    pm = Podman(lab, topo.host, config)
    pm.start()
    sc.build(pm)
    ctx = PodmanContext(lab, topo, pm)
    for f in sc.flows:
        if f.src.startswith("container:"):
            name = f.src.split(":", 1)[1]
            ctx.containers[name] = PodmanContainer(pm, name)
    for line in sc.setup:
        pm.sh(line)
    _settle(pm, ("web2", "web3"))
    return ctx


def _settle(pm: Podman, names: tuple[str, ...], timeout: float = 10) -> None:
    """Until every httpd listens (`podman run -d` returns before)."""
    deadline = time.monotonic() + timeout
    for name in names:
        while pm.exec(name, ["sh", "-c", "netstat -ltn | grep -q :"]).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"container {name} did not listen")
            time.sleep(0.1)


def snapshot(ctx: PodmanContext, out: Path) -> None:
    """`snapshot collect` of the host: its network namespace, podman through its mount
    namespace, persist/ (containers.conf) read inside that namespace."""
    from nflens.snapshot.collect import collect

    pm = ctx.podman
    assert pm.mounts is not None
    podman = ["nsenter", f"--mount={pm.mounts.file}", *pm.command()]
    report = collect(out, netns=ctx.host, podman=podman)
    hostfw.collect_persist(pm.mounts, out)
    _own_persist(out / "persist")
    if report.missing:
        (out / "collect-missing.txt").write_text(
            "; ".join(f"{f}: {r}" for f, r in report.missing) + "\n")
    run.trim_sysctl(out / "sysctl.txt")


def _own_persist(persist: Path) -> None:
    """Keep only the host's own files (its /etc/containers): the rest of its /etc overlay is
    the machine's stock files (Debian's /etc/nftables.conf, the installed ufw/firewalld), not
    the scenario's, as run.snapshot keeps no persist/ for a host without a mount namespace."""

    if not persist.is_dir():
        return
    keep = {persist / "etc" / "containers", persist / "usr" / "share" / "containers"}
    for path in sorted(persist.rglob("*"), key=lambda p: -len(p.parts)):
        if any(k == path or k in path.parents for k in keep):
            continue
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif not any(path.parent == k or k in path.parents for k in keep):
            path.unlink()


def record(sc: PodmanScenario, config: PodmanConfig, out: Path, rounds: int = 2
           ) -> dict[str, str]:
    """Build, probe, snapshot, write flows.json/expected.json/lab.json; the kernel outcomes."""
    with Lab() as lab:
        ctx = build(lab, sc, config)
        outcomes = run.probe_all(ctx, sc.flows, rounds)  # type: ignore[arg-type]
        out.mkdir(parents=True, exist_ok=True)
        snapshot(ctx, out)
        flows = [f.contract(ctx.topo.client_addrs) for f in sc.flows]
        (out / "flows.json").write_text(json.dumps({"flows": flows}, indent=1) + "\n")
        expected = {"expected": {o.name: o.outcome for o in outcomes},
                    "flaky": [o.name for o in outcomes if o.flaky], "setup": "\n".join(sc.setup)}
        (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
        pm = ctx.podman
        lab_json = {"scenario": sc.name, "story": sc.story, "podman": pm.install.version.version,
                    "netavark": pm.install.version.netavark, "firewall_driver": config.driver,
                    "packages": pm.install.packages,
                    "probes": {o.name: [{"outcome": r.outcome, "token": r.token,
                                         "detail": r.detail} for r in o.rounds]
                               for o in outcomes}}
        (out / "lab.json").write_text(json.dumps(lab_json, indent=1) + "\n")
        pm.stop()
        return {o.name: o.outcome for o in outcomes}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "tests/fixtures/podman")
    names = args[1:] or list(SCENARIOS)
    for name in names:
        for config in COMBOS:
            out = root / f"{name}-{config.label}"
            t0 = time.monotonic()
            got = record(SCENARIOS[name], config, out)
            print(f"{out}: {got} ({time.monotonic() - t0:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
