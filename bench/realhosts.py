"""The lab-built bench hosts (bench/hosts/*.tar.xz, made by `make bench-hosts`) as inputs:
unpacked once per run, and the inbound flows of issue 14 (every published port, from the LAN
and the WAN, several sources each)."""

from __future__ import annotations

import ipaddress as ip
import json
import tarfile
import tempfile
from functools import cache
from pathlib import Path

HOSTS = Path(__file__).resolve().parent / "hosts"
LAN_HOST, WAN_HOST = "10.99.0.1", "198.51.100.1"
_TMP = tempfile.TemporaryDirectory(prefix="nflens-bench-hosts-")


def archives() -> list[Path]:
    return sorted(HOSTS.glob("*.tar.xz")) if HOSTS.is_dir() else []


@cache
def unpacked(archive: Path) -> Path:
    """The snapshot directory of a kept bench host."""
    with tarfile.open(archive) as tar:
        tar.extractall(_TMP.name, filter="data")
        top = tar.getnames()[0].split("/")[0]
    return Path(_TMP.name) / top


def published_ports(snapshot: Path) -> list[int]:
    data = json.loads((snapshot / "docker-containers.json").read_text())
    ports = set()
    for c in data:
        for bindings in (c.get("HostConfig", {}).get("PortBindings") or {}).values():
            ports.update(int(b["HostPort"]) for b in bindings or () if b.get("HostPort"))
    return sorted(ports)


def inbound_flows(snapshot: Path, per_port: int = 24) -> list[dict]:
    """`per_port` flows to every published port: half from LAN clients through eth0 to the
    host's LAN address, half from the internet through eth1 to its WAN address (4,800 flows
    for 200 ports, as in issue 14)."""
    flows = []
    half = per_port // 2
    for port in published_ports(snapshot):
        for k in range(half):
            flows.append({"name": f"lan{k}-{port}", "from": {
                "iface": "eth0", "src": str(ip.ip_address("10.99.0.2") + k)},
                "to": {"addr": LAN_HOST, "port": port, "proto": "tcp"}})
            flows.append({"name": f"wan{k}-{port}", "from": {
                "iface": "eth1", "src": str(ip.ip_address("203.0.113.2") + 7 * k)},
                "to": {"addr": WAN_HOST, "port": port, "proto": "tcp"}})
    return flows


def write_flows(snapshot: Path, path: Path, per_port: int = 24) -> int:
    flows = inbound_flows(snapshot, per_port)
    path.write_text(json.dumps({"flows": flows}) + "\n")
    return len(flows)
