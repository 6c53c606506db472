"""`make bench-hosts`: build benchmark hosts with a real dockerd in the lab and keep their
snapshots as bench inputs (bench/hosts/NAME.tar.xz), root only.

    python bench/hosts.py --containers 400 --networks 10 --published 200 [--dockerd PATH]

A host is the `bench_host` lab scenario (nflens/lab/scenarios/bench_host.py): real networks,
real containers, the admin's DOCKER-USER allow-list, then a snapshot (`snapshot collect` inside
the namespace) and a few probes whose kernel outcomes are kept in expected.json, so the
simulator is held to the real kernel on the bench host as well. Built on demand, never by
`make test` (400 containers take minutes).

The Docker version is a parameter: `--docker 28` runs the lab's install of that version
(`nflens.lab.versions`: 20 is the machine's own, 26 and 28 unpacked into the lab cache);
`--dockerd PATH` runs another daemon binary. `--firewall ufw|firewalld` starts the real host
firewall first, as at boot (lab/hostfw.py, in the host's private mount namespace).
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

HOSTS = HERE / "hosts"


# What a host firewall does at boot, before dockerd (the order of their units), on a bench host:
# the usual ufw (deny incoming, ssh open) or firewalld with the LAN in `internal`, the WAN in
# `public` (lab/hostfw.py runs the real one in the host's private mount namespace).
FIREWALL_BOOT = {
    "ufw": ("ufw default deny incoming", "ufw allow 22/tcp", "ufw --force enable"),
    "firewalld": ("firewall-cmd --permanent --zone=internal --add-interface=eth0",
                  "firewall-cmd --permanent --zone=public --add-interface=eth1",
                  "firewall-cmd --reload"),
}


def dockerd_binary(path: str | None, version: str | None) -> str | None:
    """The daemon binary given by --dockerd, or None: the lab's Dockerd of version --docker."""
    if version is not None and path is not None:
        sys.exit("give --dockerd PATH or --docker VERSION, not both")
    return path


def daemon_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    # "Docker version 20.10.24+dfsg1, build 5d6db84"
    return out.split("version", 1)[1].split(",")[0].strip()


def host_name(version: str, firewall: str | None, containers: int, networks: int,
              published: int) -> str:
    fw = f"-{firewall}" if firewall else ""
    return f"docker{version.split('+')[0]}{fw}-{containers}c-{networks}n-{published}p"


def build(containers: int, networks: int, published: int, allowed: int, binary: str | None,
          docker: str | None = None, firewall: str | None = None, log=print) -> Path:
    """The bench host in the lab: the host firewall first (as at boot), then dockerd (the
    binary given, or the lab's install of Docker version `docker`), the containers, the
    allow-list, a snapshot and the probes."""
    from nflens.lab import hostfw, topology, versions
    from nflens.lab.dockerd import Dockerd
    from nflens.lab.netns import Lab
    from nflens.lab.run import LabContext, probe_all, simulate_verdicts, write_files
    from nflens.lab.scenarios.bench_host import make

    sc = make(containers, networks, published, allowed)
    if firewall:
        sc = dataclasses.replace(sc, firewall=firewall)
    boot = FIREWALL_BOOT[firewall] if firewall else ()
    variant = dataclasses.replace(sc.variants[0], boot=boot)
    version = daemon_version(binary) if binary else versions.get(docker or "20").version
    name = host_name(version, firewall, containers, networks, published)
    t0 = time.monotonic()
    with Lab() as lab, tempfile.TemporaryDirectory() as tmp:
        log(f"lab {lab.id}: {sc.title} with dockerd {version}"
            + (f" and {firewall}" if firewall else ""))
        topo = topology.build(lab, forward_first=sc.forward_first)
        mounts = hostfw.start(lab, topo.host, firewall) if firewall else None
        for line in variant.boot:
            mounts.sh(line)  # type: ignore[union-attr]  # boot lines exist only with a firewall
        mount = mounts.file if mounts else None
        if binary:
            docker_d = _Daemon(lab, topo.host, variant.daemon, binary, mount)
        else:
            docker_d = Dockerd(lab, topo.host, variant.daemon,
                               docker=docker or versions.DEFAULT, mount=mount)
        docker_d.start()
        try:
            docker_d.build_image()
            ctx = LabContext(lab, topo, docker_d, mounts=mounts)
            sc.build(ctx)
            log(f"  {containers} containers created in {time.monotonic() - t0:.0f} s")
            for line in variant.setup:
                ctx.sh(line)
            _settle(ctx, sc)
            outcomes = probe_all(ctx, sc.flows)
            out = Path(tmp) / name
            write_files(ctx, sc, variant, outcomes, out)
            verdicts = simulate_verdicts(out) or {}
            for o in outcomes:
                log(f"  probe {o.name}: kernel {o.outcome}, nflens {verdicts.get(o.name)}")
            HOSTS.mkdir(exist_ok=True)
            target = HOSTS / f"{name}.tar.xz"
            with tarfile.open(target, "w:xz") as tar:
                tar.add(out, arcname=name)
        finally:
            log("  removing the containers")
            docker_d.stop()
    log(f"wrote {target} ({target.stat().st_size // 1024} KiB) in {time.monotonic() - t0:.0f} s")
    return target


class _Daemon:
    """The lab's Dockerd with another daemon binary (given by --dockerd)."""

    def __new__(cls, lab, ns, config, binary, mount=None):
        from nflens.lab.dockerd import Dockerd

        class Versioned(Dockerd):
            def argv(self) -> list[str]:
                argv = super().argv()
                i = next(i for i, a in enumerate(argv) if a.endswith("dockerd"))
                return [*argv[:i], binary, *argv[i + 1:]]

        return Versioned(lab, ns, config, mount=mount)


def _settle(ctx, sc, timeout: float = 600) -> None:
    """Every container running, and the httpd of each container a probe reaches listening."""
    from nflens.errors import ToolError

    deadline = time.monotonic() + timeout
    client = ctx.docker.client
    while time.monotonic() < deadline:
        states = [c.status for c in client.containers.list(all=True)]
        if states and all(s == "running" for s in states):
            break
        time.sleep(0.5)
    else:
        raise ToolError("containers did not all come up")
    for c in list(ctx.containers.values())[:8]:
        while c.exec_run(["sh", "-c", "netstat -ltn | grep -q :"]).exit_code != 0:
            if time.monotonic() > deadline:
                raise ToolError(f"container {c.name} does not listen")
            time.sleep(0.1)


def extract(archive: Path, into: Path) -> Path:
    """A kept bench host, unpacked: the snapshot directory."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
        top = tar.getnames()[0].split("/")[0]
    return into / top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=400)
    ap.add_argument("--networks", type=int, default=10)
    ap.add_argument("--published", type=int, default=200)
    ap.add_argument("--allowed", type=int, default=115)
    ap.add_argument("--dockerd", help="daemon binary (default: dockerd on PATH)")
    ap.add_argument("--docker", help="a Docker version the lab runs (nflens.lab.versions.KEYS: "
                    "20, 26, 28); default 20, the machine's own")
    ap.add_argument("--firewall", choices=sorted(FIREWALL_BOOT),
                    help="the real host firewall, started before dockerd (lab/hostfw.py)")
    args = ap.parse_args()
    build(args.containers, args.networks, args.published, args.allowed,
          dockerd_binary(args.dockerd, args.docker), args.docker, args.firewall)


if __name__ == "__main__":
    main()
