"""Read the Podman part of a snapshot (podmanfiles.py collects it) into the runtime model that
Docker's containers use (`ir.host.DockerState`, every object `runtime="podman"`).

- podman-containers.json is `podman inspect` through podmanfiles.CONTAINER_FORMAT: the fields
  are Docker's (podman's inspect is Docker-compatible: NetworkSettings.Networks/Ports,
  HostConfig.PortBindings), so dockerfiles.container reads each object; the network of an
  endpoint is the key of NetworkSettings.Networks, a network *name* in podman (its NetworkID
  is the name too, seen on 4.3.1 and 5.8.6);
- podman-networks.json is netavark's network config (`podman network inspect`): lowercase
  keys, the Linux bridge is `network_interface` (podman0, podman1, ...), `internal`,
  `ipv6_enabled`, `subnets[].subnet/gateway`. netavark has no inter-container isolation inside
  a network (icc) and masquerades every non-internal bridge network's subnet (netavark
  src/firewall/varktables/types.rs get_network_chains: the NETAVARK-<id> POSTROUTING chain);
- podman-info.json gives the version and rootless (host.security.rootless); the firewall driver
  is containers.conf's `[network] firewall_driver` (persist/etc/containers/...), else netavark's
  default: nftables from netavark 1.15 on when built so; said as an assumption then.

Rootless Podman (podman-info.json host.security.rootless) is read as what it is: its
containers live in the user's network namespace (pasta or slirp4netns; netavark's bridges, if
any, inside the rootless netns, not on this host), and a published port is a socket of the
user's process (pasta, or rootlessport for slirp4netns) that ss.txt shows, never netfilter DNAT
(podman-network(1), "rootless" / pasta(1)): the containers are kept with neither ports nor
endpoints, no network is put on the host, and the port is answered as the host service it is
(through INPUT); the assumptions say so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nflens.errors import ParseError
from nflens.ir.host import Container, DaemonOptions, DockerState, Network
from nflens.snapshot import dockerfiles
from nflens.snapshot.schemas import DockerContainer, PodmanNetwork, entries

CONF = "etc/containers/containers.conf"
_DRIVER = re.compile(r'^\s*firewall_driver\s*=\s*"([^"]*)"', re.M)


def containers(data: Any, file: str) -> tuple[Container, ...]:
    """Every `podman inspect` object, read as Docker's are (see the module docstring)."""
    data = [data] if isinstance(data, dict) else data
    entries(DockerContainer, data, file, "podman inspect")
    return tuple(replace(dockerfiles.container(o, file), runtime="podman") for o in data)


def network(obj: dict, file: str) -> Network:
    """One netavark network (`podman network inspect`)."""
    try:
        subnets, gateways = [], []
        for sub in obj.get("subnets") or ():
            subnets.append(ipaddress.ip_network(sub["subnet"], strict=False))
            if sub.get("gateway"):
                gateways.append(ipaddress.ip_address(sub["gateway"]))
        options = obj.get("options") or {}
        return Network(
            id=str(obj.get("id") or obj["name"]), name=obj["name"],
            driver=str(obj.get("driver") or "bridge"), bridge=obj.get("network_interface"),
            subnets=tuple(subnets), gateways=tuple(gateways),
            internal=bool(obj.get("internal", False)),
            enable_ipv6=bool(obj.get("ipv6_enabled", False)),
            options=tuple(sorted((str(k), str(v)) for k, v in options.items())),
            runtime="podman")
    except (KeyError, ValueError, TypeError) as exc:
        raise ParseError(f"network {obj.get('name')!r}: {exc!r}", file) from None


def networks(data: Any, file: str) -> tuple[Network, ...]:
    data = [data] if isinstance(data, dict) else data
    entries(PodmanNetwork, data, file, "podman network inspect")
    return tuple(network(o, file) for o in data)


def firewall_driver(persist: dict[str, str]) -> str | None:
    """containers.conf's `firewall_driver` (the last one set: containers.conf.d files are read
    after containers.conf, in name order, and override it), None when none sets it."""
    found = None
    for name in [CONF] + sorted(k for k in persist if k.startswith(CONF + ".d/")):
        for m in _DRIVER.finditer(persist.get(name, "")):
            found = m.group(1)
    return found


def daemon(info: Any, persist: dict[str, str], missing: Callable[[str], None]) -> DaemonOptions:
    """Podman's version and netavark's driver; podman has no userland proxy for rootful
    bridge ports (netavark DNATs them; conmon only holds the port reserved)."""
    info = info if isinstance(info, dict) else {}
    version = (info.get("version") or {}).get("Version")
    host = info.get("host") or {}
    rootless = bool((host.get("security") or {}).get("rootless", False))
    driver = firewall_driver(persist)
    if driver is None:
        driver = "iptables"
        missing("no firewall_driver in containers.conf: netavark's iptables driver assumed "
                "(nftables is the default of netavark builds from 1.15 on some distributions)")
    return DaemonOptions(userland_proxy=False, firewall_backend=driver,
                         version=str(version) if version else None,
                         raw=(("rootless", rootless),))


def state(json: Callable[[str], Any], path: Callable[[str], str],
          persist: dict[str, str], note: Callable[[str], None]) -> DockerState:
    """The Podman runtime of a snapshot; empty (and nothing assumed) when it has no Podman
    file: a host without Podman is the common case, and collect-missing.txt says why."""
    conts, nets = json("podman-containers.json"), json("podman-networks.json")
    info = json("podman-info.json")
    if conts is None and nets is None and info is None:
        return DockerState()
    if conts is not None and nets is None:
        note("no podman-networks.json: the Podman containers' bridges are unknown")
    state = DockerState(
        containers=containers(conts, path("podman-containers.json")) if conts else (),
        networks=networks(nets, path("podman-networks.json")) if nets else (),
        daemon=daemon(info, persist, note))
    return _rootless(state, note) if dict(state.daemon.raw).get("rootless") else state


def _rootless(state: DockerState, note: Callable[[str], None]) -> DockerState:
    """A rootless Podman's state as this host's kernel sees it (see the module docstring)."""
    ports = sorted({f"{b.proto}/{b.host_port}" for c in state.containers for b in c.ports
                    if b.host_port})
    note("rootless Podman (podman-info.json): its containers are in the user's network "
         "namespace (pasta/slirp4netns), not on this host's bridges; their published ports"
         f"{' (' + ', '.join(ports) + ')' if ports else ''} are sockets of the user's process "
         "(pasta, rootlessport), answered as host services through INPUT, never DNAT")
    return replace(state, networks=(), containers=tuple(
        replace(c, ports=(), endpoints=()) for c in state.containers))
