"""`make bench-hosts`: build benchmark hosts with a real dockerd in the lab and keep their
snapshots as bench inputs (bench/hosts/NAME.tar.xz), root only.

    python bench/hosts.py --containers 400 --networks 10 --published 200 [--dockerd PATH]

A host is the `bench_host` lab scenario (nflens/lab/scenarios/bench_host.py): real networks,
real containers, the admin's DOCKER-USER allow-list, then a snapshot (`snapshot collect` inside
the namespace) and a few probes whose kernel outcomes are kept in expected.json, so the
simulator is held to the real kernel on the bench host as well. Built on demand, never by
`make test` (400 containers take minutes).

The Docker version is a parameter: `--dockerd PATH` runs that daemon binary (default: the one
on PATH, Debian 12's 20.10); `--docker VERSION` asks `nflens.lab.versions` (the lab's fetched
docker.io releases) for the binary of that version.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

HOSTS = HERE / "hosts"


def dockerd_binary(path: str | None, version: str | None) -> str:
    if version is None:
        return path or "dockerd"
    try:
        from nflens.lab import versions  # the labdocker work: fetched docker.io releases
    except ImportError:
        sys.exit(f"--docker {version}: nflens.lab.versions is not available in this checkout; "
                 "give the daemon binary with --dockerd PATH")
    return str(versions.dockerd(version))


def daemon_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    # "Docker version 20.10.24+dfsg1, build 5d6db84"
    return out.split("version", 1)[1].split(",")[0].strip()


def build(containers: int, networks: int, published: int, allowed: int, binary: str,
          log=print) -> Path:
    from nflens.lab import topology
    from nflens.lab.netns import Lab
    from nflens.lab.run import LabContext, probe_all, simulate_verdicts, write_files
    from nflens.lab.scenarios.bench_host import make

    version = daemon_version(binary)
    sc = make(containers, networks, published, allowed)
    variant = sc.variants[0]
    name = f"docker{version.split('+')[0]}-{containers}c-{networks}n-{published}p"
    t0 = time.monotonic()
    with Lab() as lab, tempfile.TemporaryDirectory() as tmp:
        log(f"lab {lab.id}: {sc.title} with dockerd {version}")
        topo = topology.build(lab, forward_first=sc.forward_first)
        docker = _Daemon(lab, topo.host, variant.daemon, binary)
        docker.start()
        try:
            docker.build_image()
            ctx = LabContext(lab, topo, docker)
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
            docker.stop()
    log(f"wrote {target} ({target.stat().st_size // 1024} KiB) in {time.monotonic() - t0:.0f} s")
    return target


class _Daemon:
    """The lab's Dockerd with another daemon binary (a fetched docker.io release)."""

    def __new__(cls, lab, ns, config, binary):
        from nflens.lab.dockerd import Dockerd

        class Versioned(Dockerd):
            def argv(self) -> list[str]:
                return [binary, *super().argv()[1:]]

        return Versioned(lab, ns, config)


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
    ap.add_argument("--docker", help="a docker.io version the lab fetched (nflens.lab.versions)")
    args = ap.parse_args()
    build(args.containers, args.networks, args.published, args.allowed,
          dockerd_binary(args.dockerd, args.docker))


if __name__ == "__main__":
    main()
