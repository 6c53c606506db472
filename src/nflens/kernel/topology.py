"""Where things sit on a host: its outward interfaces, its Linux bridges with the Docker network
each carries, and the containers on each bridge. Pure (no I/O); the host diagram
(report/html/hostgraph.py) draws it and computes nothing of its own.

A container is seated on the first of its endpoints whose network has a bridge on this host;
its further bridged endpoints are `extra_links` (the diagram dashes them). A container with
endpoints but none on a bridge here (host, macvlan, overlay networks) is `unbridged`.

The outward interfaces here are the diagram's: not a bridge, not loopback (by kind or as "lo"),
not a bridge port (`master`), and not a master-less veth named veth* — a container's host end
seen without its bridge — since it leads to no other host. analysis/exposure.ingress_interfaces
and policy/flows.external ask a different question (where packets may come from) and do count
such a veth; they also skip interfaces named as a Docker network's bridge whatever their kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from nflens.ir.host import Container, ContainerEndpoint, Host, Interface, Network


@dataclass(frozen=True)
class Seat:
    """A container as drawn on one bridge, with the endpoint that puts it there."""

    container: Container
    endpoint: ContainerEndpoint


@dataclass(frozen=True)
class BridgeSite:
    interface: Interface
    network: Network | None  # the Docker network whose bridge this is, if any
    seats: tuple[Seat, ...]


@dataclass(frozen=True)
class Topology:
    uplinks: tuple[Interface, ...]
    bridges: tuple[BridgeSite, ...]
    extra_links: tuple[tuple[str, str], ...]  # (bridge name, container name)
    unbridged: tuple[Seat, ...]


def is_uplink(iface: Interface) -> bool:
    """An interface that leads off the host, as the diagram shows it (see the module doc)."""
    return (iface.kind not in ("bridge", "loopback") and iface.name != "lo" and not iface.master
            and not (iface.kind == "veth" and iface.name.startswith("veth")))


def topology(host: Host) -> Topology:
    docker = host.runtimes
    bridges = [i for i in host.interfaces if i.kind == "bridge"]
    seats: dict[str, list[Seat]] = {b.name: [] for b in bridges}
    extra: list[tuple[str, str]] = []
    unbridged: list[Seat] = []
    for c in docker.containers:
        placed = False
        for ep in c.endpoints:
            net = docker.network(ep.network)
            br = net.bridge if net is not None else None
            if br not in seats:
                continue
            if placed:
                extra.append((br, c.name))
            else:
                seats[br].append(Seat(c, ep))
                placed = True
        if not placed and c.endpoints:
            unbridged.append(Seat(c, c.endpoints[0]))
    net_of_bridge = {n.bridge: n for n in docker.networks if n.bridge}
    sites = tuple(BridgeSite(b, net_of_bridge.get(b.name), tuple(seats[b.name])) for b in bridges)
    return Topology(tuple(i for i in host.interfaces if is_uplink(i)), sites, tuple(extra),
                    tuple(unbridged))


__all__ = ["BridgeSite", "Seat", "Topology", "is_uplink", "topology"]
