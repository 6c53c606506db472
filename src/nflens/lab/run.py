"""Run a scenario: build it, probe every flow on the real kernel, snapshot, compare, tear down.

The kernel outcomes are the ground truth (`expected.json`): each flow is probed `rounds` times
(two full passes, so conntrack, neighbour caches and proxies had their chance to change
something) and a flow whose rounds disagree is listed in `"flaky"` instead of being trusted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens.errors import ToolError
from nflens.lab import hostfw, probes, topology, versions
from nflens.lab.dockerd import Dockerd
from nflens.lab.mountns import HostMounts
from nflens.lab.netns import Lab, run_in
from nflens.lab.scenarios import FlowSpec, Scenario, Variant


@dataclass
class LabContext:
    """What a scenario's `build` works with."""

    lab: Lab
    topo: topology.Topology
    docker: Dockerd
    containers: dict[str, Any] = field(default_factory=dict)
    mounts: HostMounts | None = None  # the host's private mount namespace (real ufw/firewalld)
    udp_ports: dict[str, tuple[int, ...]] = field(default_factory=dict)  # container -> UDP

    @property
    def host(self) -> str:
        return self.topo.host

    def network(self, name: str, subnet: str, gateway: str, subnet6: str | None = None,
                gateway6: str | None = None, **kwargs: Any):
        """A bridge network with fixed subnets (an IPv6 one too when `subnet6` is given)."""
        import docker.types

        pools = [docker.types.IPAMPool(subnet=subnet, gateway=gateway)]
        if subnet6:
            pools.append(docker.types.IPAMPool(subnet=subnet6, gateway=gateway6))
            kwargs["enable_ipv6"] = True
        ipam = docker.types.IPAMConfig(pool_configs=pools)
        return self.docker.client.networks.create(name, driver="bridge", ipam=ipam, **kwargs)

    def server(self, name: str, **kwargs: Any):
        self.containers[name] = self.docker.run_server(name, **kwargs)
        return self.containers[name]

    def udp_server(self, name: str, udp_ports: tuple[int, ...], port: int = 80,
                   **kwargs: Any):
        """A server answering `nflens:<name>` over HTTP on `port` and over UDP on each of
        `udp_ports` (lab/udp.py: the UDP side runs in the container's network namespace)."""
        container = self.server(name, port=port, **kwargs)
        self.udp_ports[name] = udp_ports
        self.serve_udp(name)
        return container

    def serve_udp(self, name: str) -> None:
        """(Re)start the UDP servers of container `name`: they live in its network namespace,
        which a container restart (a dockerd restart, `docker start`) replaces by a new one."""
        from nflens.lab import udp

        for udp_port in self.udp_ports.get(name, ()):
            udp.start_server(self.lab, self.containers[name], udp_port, f"nflens:{name}")

    def sh(self, line: str) -> str:
        """One setup line, run by sh in the host namespace (iptables/ebtables/nft, ufw,
        firewall-cmd ...), in its private mount namespace when it has one."""
        if self.mounts is not None:
            return self.mounts.sh(line).stdout
        return run_in(self.host, ["sh", "-c", line], runner=self.lab.runner).stdout


@dataclass
class FlowOutcome:
    name: str
    outcome: str
    rounds: list[probes.ProbeResult]

    @property
    def flaky(self) -> bool:
        return len({r.outcome for r in self.rounds}) > 1


@dataclass
class RunReport:
    scenario: str
    variant: str
    docker: str
    run_id: str
    outcomes: list[FlowOutcome]
    timings: dict[str, float]
    out_dir: Path | None = None
    verdicts: dict[str, str] | None = None  # simulator verdicts, when a checker exists
    kept: bool = False


Log = Callable[[str], None]


def build(lab: Lab, sc: Scenario, variant: Variant, docker: str = versions.DEFAULT,
          etc_from: Path | None = None) -> LabContext:
    """The scenario's host on Docker version `docker` (versions.KEYS), its host firewall (ufw,
    firewalld) started first in the host's private mount namespace, as at boot. `etc_from`: the
    host firewall's private /etc comes from there (a saved one: a reboot)."""
    topo = topology.build(lab, ipv6=sc.ipv6, forward_first=sc.forward_first,
                          addressing=sc.addressing)
    for port in sc.host_services:
        topo.host_service(port)
    mounts = hostfw.start(lab, topo.host, sc.firewall, etc_from) if sc.firewall else None
    for line in variant.boot:  # the host firewall's own commands, before dockerd (boot order)
        if mounts is not None:
            mounts.sh(line)
        else:
            run_in(topo.host, ["sh", "-c", line], runner=lab.runner)
    dockerd = Dockerd(lab, topo.host, variant.daemon, docker=docker,
                      mount=mounts.file if mounts else None)
    dockerd.start()
    dockerd.build_image()
    ctx = LabContext(lab, topo, dockerd, mounts=mounts)
    sc.build(ctx)
    for line in variant.setup:
        ctx.sh(line)
    _settle(ctx)
    return ctx


def _settle(ctx: LabContext, timeout: float = 10) -> None:
    """Wait until every container runs and its httpd listens (docker run returns before)."""
    deadline = time.monotonic() + timeout
    for c in ctx.containers.values():
        while time.monotonic() < deadline:
            c.reload()
            if c.status == "running" and c.exec_run(["sh", "-c", "netstat -ltn | grep -q :"]
                                                    ).exit_code == 0:
                break
            time.sleep(0.1)
        else:
            raise ToolError(f"container {c.name} did not come up: {c.status}")


def probe(ctx: LabContext, flow: FlowSpec) -> probes.ProbeResult:
    if flow.src == "host":
        return probes.from_netns(ctx.host, flow.addr, flow.port, flow.proto,
                                 runner=ctx.lab.runner)
    if flow.src.startswith("container:"):
        name = flow.src.split(":", 1)[1]
        return probes.from_container(ctx.containers[name], flow.addr, flow.port, flow.proto)
    if flow.saddr in ctx.topo.peers:  # a host of its own beyond the client (its address)
        return probes.from_netns(ctx.topo.peers[flow.saddr], flow.addr, flow.port, flow.proto,
                                 runner=ctx.lab.runner)
    return probes.from_netns(ctx.topo.client_for(flow.src), flow.addr, flow.port, flow.proto,
                             src=flow.saddr or None, runner=ctx.lab.runner)


def probe_all(ctx: LabContext, flows: tuple[FlowSpec, ...], rounds: int = 2
              ) -> list[FlowOutcome]:
    results: dict[str, list[probes.ProbeResult]] = {f.name: [] for f in flows}
    for _ in range(rounds):
        for f in flows:
            results[f.name].append(probe(ctx, f))
    out = []
    for f in flows:
        rs = results[f.name]
        allow = sum(r.outcome == "allow" for r in rs)
        out.append(FlowOutcome(f.name, "allow" if allow * 2 > len(rs) else "deny", rs))
    return out


def write_files(ctx: LabContext, sc: Scenario, variant: Variant, outcomes: list[FlowOutcome],
                out: Path) -> None:
    """Snapshot (CONTRACT §2) of the host namespace, then flows.json and expected.json."""
    out.mkdir(parents=True, exist_ok=True)
    snapshot(ctx, out)
    flows = [f.contract(ctx.topo.client_addrs) for f in sc.flows]
    (out / "flows.json").write_text(json.dumps({"flows": flows}, indent=1) + "\n")
    expected = {"expected": {o.name: o.outcome for o in outcomes},
                "flaky": [o.name for o in outcomes if o.flaky],
                **({"beyond": {f.name: f.beyond for f in sc.flows if f.beyond}}
                   if any(f.beyond for f in sc.flows) else {}),
                "setup": "\n".join(variant.setup)}
    if variant.boot:
        expected["boot"] = "\n".join(variant.boot)
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    install = ctx.docker.install
    lab = {"scenario": sc.name, "variant": variant.name, "description": variant.description,
           "docker": install.version.version if install else None,
           "packages": install.packages if install else {},
           "daemon": variant.daemon.daemon_json(), **_versions(ctx, sc),
           "probes": {o.name: [{"outcome": r.outcome, "token": r.token, "detail": r.detail}
                               for r in o.rounds] for o in outcomes}}
    (out / "lab.json").write_text(json.dumps(lab, indent=1) + "\n")


def _versions(ctx: LabContext, sc: Scenario) -> dict[str, Any]:
    """Which dockerd and which host firewall made the fixture."""
    out: dict[str, Any] = {"dockerd": ctx.docker.client.version().get("Version")}
    if sc.firewall and ctx.mounts is not None:
        cmd = {"ufw": "ufw version | head -1", "firewalld": "firewall-cmd --version"}[sc.firewall]
        out["firewall"] = {"manager": sc.firewall,
                           "version": ctx.mounts.sh(cmd, check=False).stdout.strip()}
    return out


def snapshot(ctx: LabContext, out: Path) -> None:
    from nflens.snapshot.collect import collect

    report = collect(out, netns=ctx.host, docker_host=ctx.docker.url,
                     daemon_json=ctx.docker.daemon_json)
    # persist/ as `nflens snapshot collect` finds it on that host, read in the host's own mount
    # namespace. A host without one shares the machine's filesystem, whose stock files (Debian's
    # /etc/nftables.conf "flush ruleset", the installed ufw/firewalld) are not the scenario's:
    # its snapshot keeps no persist/ ("persistence unknown").
    if ctx.mounts is not None:
        hostfw.collect_persist(ctx.mounts, out)
    if report.missing:
        missing = "; ".join(f"{f}: {r}" for f, r in report.missing)
        (out / "collect-missing.txt").write_text(missing + "\n")
    trim_sysctl(out / "sysctl.txt")


def trim_sysctl(path: Path) -> None:
    """Keep the `net.*` keys only (CONTRACT §2 needs net.ipv4/ipv6/bridge): fixtures stay small
    and carry nothing about the machine that made them (kernel.*, fs.*, vm.*)."""
    if path.exists():
        lines = path.read_text().splitlines()
        path.write_text("".join(f"{line}\n" for line in lines if line.startswith("net.")))


def simulate_verdicts(out: Path) -> dict[str, str]:
    """Simulator verdicts for the snapshot's flows (the run compares them with the probes)."""
    from nflens.flows import load_flows
    from nflens.kernel.check import check_flows
    from nflens.snapshot.read import read_snapshot

    host = read_snapshot(out)
    results = check_flows(host, load_flows(out / "flows.json"))
    verdicts = {}
    for r in results:
        name = getattr(r, "name", None) or getattr(getattr(r, "flow", None), "name", None)
        verdict = getattr(r, "verdict", None)
        if isinstance(r, dict):
            name, verdict = r.get("name"), r.get("verdict")
        verdicts[str(name)] = str(verdict)
    return verdicts


def run(sc: Scenario, variant_name: str | None = None, out: Path | None = None,
        keep: bool = False, rounds: int = 2, log: Log | None = None,
        run_id: str | None = None, docker: str = versions.DEFAULT) -> RunReport:
    """Build, probe, snapshot, compare; tear down unless `keep` (then `nflens lab down ID`).
    `docker`: the version key (versions.KEYS) the host's dockerd is."""
    log = log or (lambda msg: None)
    variant = sc.variant(variant_name)
    sc.check_docker(docker)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    with Lab(run_id, keep=keep) as lab:
        log(f"lab {lab.id}: building {sc.name}/{variant.name} on Docker "
            f"{versions.get(docker).version}")
        ctx = build(lab, sc, variant, docker)
        timings["build"] = round(time.monotonic() - t0, 2)
        outcomes = probe_all(ctx, sc.flows, rounds)
        timings["probe"] = round(time.monotonic() - t0 - timings["build"], 2)
        verdicts = None
        if out is not None:
            write_files(ctx, sc, variant, outcomes, out)
            verdicts = _safe_verdicts(out, log)
        report = RunReport(sc.name, variant.name, versions.get(docker).version, lab.id,
                           outcomes, timings, out, verdicts, keep)
        if not keep:
            ctx.docker.stop()
    timings["total"] = round(time.monotonic() - t0, 2)
    return report


def _safe_verdicts(out: Path, log: Log) -> dict[str, str] | None:
    """The simulator is someone else's work in progress: its failure must not lose a run."""
    try:
        return simulate_verdicts(out)
    except Exception as exc:  # noqa: BLE001
        log(f"simulator check failed: {type(exc).__name__}: {exc}")
        return None
