"""Lab scenarios: real-world firewall stories rebuilt on a real kernel with a real dockerd.

A scenario is one module here defining `SCENARIO`: what to build (Docker networks, containers,
host services), the flows to probe, and its variants (broken / half-fixed / fixed), each a list
of shell lines run in the host namespace *after* the containers are up (the way a boot script or
an administrator changes a running Docker host). The lines are also what `expected.json`
records as `"setup"`.

Flow sources (CONTRACT §3): `eth0` / `eth1` mean "the LAN / WAN client, through that host
interface", `host` the host namespace itself, `container:NAME` a container.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nflens.errors import NflensError
from nflens.lab import versions
from nflens.lab.dockerd import DaemonConfig

MODULES = ("seed000_web2", "seed001_input_bypass", "seed003_egress", "seed004_dnat_port",
           "seed005_nft_priority", "docker_options", "internal_net", "ufw_docker",
           "firewalld_zones", "docker_versions", "seed002_radius", "ufw_ipv6",
           "macvlan", "multi_net", "bound_port", "gateway_modes",
           "plain_bridge", "gw_priority", "asymmetric")


@dataclass(frozen=True)
class FlowSpec:
    name: str
    src: str  # "eth0" | "eth1" | "host" | "container:NAME"
    addr: str
    port: int
    proto: str = "tcp"
    note: str = ""
    saddr: str = ""  # a client source: which of its addresses it sends from (default: its first)
    beyond: str = ""  # what the kernel's outcome hangs on outside the host (expected "beyond")

    def contract(self, client_addrs: dict[str, list[str]]) -> dict[str, Any]:
        """The CONTRACT §3 form; an interface source gets its client's address of that family
        (`saddr` when given: one of the client's extra addresses, topology.plans)."""
        to = {"addr": self.addr, "port": self.port, "proto": self.proto}
        if self.src == "host":
            origin: dict[str, Any] = {"host": True}
        elif self.src.startswith("container:"):
            origin = {"container": self.src.split(":", 1)[1]}
        else:
            version = ipaddress.ip_address(self.addr).version
            src = self.saddr or next(a for a in client_addrs[self.src]
                                     if ipaddress.ip_address(a).version == version)
            origin = {"iface": self.src, "src": src}
        return {"name": self.name, "from": origin, "to": to}


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    setup: tuple[str, ...] = ()
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    boot: tuple[str, ...] = ()  # run after the host firewall starts, before dockerd (boot order)


@dataclass(frozen=True)
class Scenario:
    """`build(ctx)` creates networks/containers; `ctx` is a `nflens.lab.run.LabContext`."""

    name: str
    title: str
    story: str
    build: Callable[[Any], None]
    flows: tuple[FlowSpec, ...]
    variants: tuple[Variant, ...]
    ipv6: bool = False
    addressing: dict[str, dict] | None = None  # LAN/WAN plans replacing topology's (plans())
    forward_first: bool = True  # ip_forward=1 before dockerd (FORWARD stays ACCEPT)
    host_services: tuple[int, ...] = (8000,)
    firewall: str | None = None  # "ufw" | "firewalld": the real manager (lab/hostfw.py)
    dockers: tuple[str, ...] = versions.KEYS  # the Docker versions it runs on (versions.KEYS)

    def check_docker(self, key: str) -> None:
        v = versions.get(key)
        if v.key not in self.dockers:
            raise NflensError(f"scenario {self.name} does not run on Docker {v.version}; it runs "
                              "on " + ", ".join(versions.get(k).version for k in self.dockers))

    def variant(self, name: str | None) -> Variant:
        if name is None:
            return self.variants[0]
        for v in self.variants:
            if v.name == name:
                return v
        raise NflensError(f"scenario {self.name} has no variant {name!r}; variants: "
                          + ", ".join(v.name for v in self.variants))


def load(name: str) -> Scenario:
    matches = [m for m in MODULES if m == name or m.split("_", 1)[0] == name]
    if not matches:
        raise NflensError(f"unknown scenario {name!r}; scenarios: {', '.join(MODULES)}")
    return importlib.import_module(f"nflens.lab.scenarios.{matches[0]}").SCENARIO


def all_scenarios() -> list[Scenario]:
    out = []
    for name in MODULES:
        try:
            out.append(load(name))
        except ModuleNotFoundError as exc:
            if exc.name != f"nflens.lab.scenarios.{name}":
                raise
    return out
