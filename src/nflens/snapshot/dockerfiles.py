"""Parsers for the Docker part of a snapshot: `docker inspect`, `docker network inspect`,
`docker info`, `docker version` and /etc/docker/daemon.json.

The defaults applied here are Docker's own (moby daemon/config and the bridge driver):
userland-proxy, iptables and icc/masquerade default to true; ip6tables defaults to true from
Docker 27 on and to false before; a non-default bridge network's Linux bridge is `br-` + the
first 12 characters of the network id unless com.docker.network.bridge.name says otherwise.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from nflens.errors import ParseError
from nflens.ir.host import Container, ContainerEndpoint, DaemonOptions, Network, PortBinding
from nflens.snapshot.schemas import DockerContainer, DockerNetwork, entries

BRIDGE_OPT = "com.docker.network.bridge."


def _objects(data: Any, file: str, model: type, what: str) -> list[dict]:
    """The objects of a `docker ... inspect` dump, each validated by its schema first (a wrong
    field is FILE:LINE: entry #N ('name'): field: what it should be)."""
    if isinstance(data, dict):
        data = [data]
    entries(model, data, file, what)
    return data


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto or "tcp"


def _bindings(mapping: dict | None) -> list[PortBinding]:
    out = []
    for key, binds in (mapping or {}).items():
        port, proto = _port_key(key)
        for b in binds or ():
            host_port = str(b.get("HostPort") or "").split("-")[0]
            out.append(PortBinding(port, proto, b.get("HostIp") or "",
                                   int(host_port) if host_port.isdigit() else None))
    return out


def _endpoint(name: str, ep: dict) -> ContainerEndpoint:
    ip4 = ep.get("IPAddress") or ""
    ip6 = ep.get("GlobalIPv6Address") or ""
    return ContainerEndpoint(
        network=name,
        ipv4=ipaddress.IPv4Interface(f"{ip4}/{ep.get('IPPrefixLen') or 32}") if ip4 else None,
        ipv6=(ipaddress.IPv6Interface(f"{ip6}/{ep.get('GlobalIPv6PrefixLen') or 128}")
              if ip6 else None),
        gateway4=ipaddress.IPv4Address(ep["Gateway"]) if ep.get("Gateway") else None,
        gateway6=ipaddress.IPv6Address(ep["IPv6Gateway"]) if ep.get("IPv6Gateway") else None,
        mac=(ep.get("MacAddress") or "").lower() or None,
        endpoint_id=ep.get("EndpointID") or None,
        gw_priority=int(ep.get("GwPriority") or 0),
    )


def container(obj: dict, file: str) -> Container:
    """One `docker inspect` object. Published ports come from NetworkSettings.Ports (what is
    bound now) for a running container, else from HostConfig.PortBindings (what was asked)."""
    try:
        state = obj.get("State") or {}
        settings = obj.get("NetworkSettings") or {}
        host_config = obj.get("HostConfig") or {}
        config = obj.get("Config") or {}
        running = bool(state.get("Running", False))
        live = _bindings(settings.get("Ports")) if running else []
        ports = live or _bindings(host_config.get("PortBindings"))
        mode = host_config.get("NetworkMode") or "bridge"
        return Container(
            id=obj["Id"],
            name=str(obj.get("Name", obj["Id"][:12])).lstrip("/"),
            running=running,
            endpoints=tuple(_endpoint(n, ep or {})
                            for n, ep in (settings.get("Networks") or {}).items()),
            ports=tuple(dict.fromkeys(ports)),
            exposed=tuple(_port_key(k) for k in (config.get("ExposedPorts") or {})),
            labels=tuple(sorted((config.get("Labels") or {}).items())),
            network_mode="bridge" if mode == "default" else mode,
            pid=int(state["Pid"]) if state.get("Pid") else None,
            image=str(config.get("Image") or ""),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ParseError(f"container {obj.get('Name') or obj.get('Id')!r}: {exc!r}", file) from None


def containers(data: Any, file: str) -> tuple[Container, ...]:
    return tuple(container(o, file)
                 for o in _objects(data, file, DockerContainer, "docker inspect"))


def _flag(options: dict, key: str, default: bool) -> bool:
    value = options.get(BRIDGE_OPT + key)
    return default if value is None else str(value).lower() in ("true", "1", "yes")


def network(obj: dict, file: str, assumptions: list[str]) -> Network:
    """One `docker network inspect` object."""
    try:
        options = obj.get("Options") or {}
        driver = obj.get("Driver", "bridge")
        bridge = options.get(BRIDGE_OPT + "name")
        if bridge is None and driver == "bridge":
            bridge = "br-" + obj["Id"][:12]
        subnets, gateways = [], []
        for cfg in (obj.get("IPAM") or {}).get("Config") or ():
            if not cfg.get("Subnet"):
                continue
            subnet = ipaddress.ip_network(cfg["Subnet"], strict=False)
            subnets.append(subnet)
            if cfg.get("Gateway"):
                gateways.append(ipaddress.ip_address(cfg["Gateway"].split("/")[0]))
            elif driver == "bridge":
                gateways.append(subnet.network_address + 1)
                assumptions.append(f"network {obj.get('Name')!r} has no gateway for {subnet} in "
                                   f"its IPAM config: assumed {subnet.network_address + 1} "
                                   "(Docker's default)")
        return Network(
            id=obj["Id"], name=obj.get("Name", obj["Id"][:12]), driver=driver, bridge=bridge,
            subnets=tuple(subnets), gateways=tuple(gateways),
            internal=bool(obj.get("Internal", False)),
            icc=_flag(options, "enable_icc", True),
            masquerade=_flag(options, "enable_ip_masquerade", True),
            enable_ipv6=bool(obj.get("EnableIPv6", False)),
            host_binding_ipv4=options.get(BRIDGE_OPT + "host_binding_ipv4"),
            gateway_mode_ipv4=options.get(BRIDGE_OPT + "gateway_mode_ipv4", "nat"),
            gateway_mode_ipv6=options.get(BRIDGE_OPT + "gateway_mode_ipv6", "nat"),
            options=tuple(sorted((str(k), str(v)) for k, v in options.items())),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ParseError(f"network {obj.get('Name') or obj.get('Id')!r}: {exc!r}", file) from None


def networks(data: Any, file: str, assumptions: list[str]) -> tuple[Network, ...]:
    return tuple(network(o, file, assumptions)
                 for o in _objects(data, file, DockerNetwork, "docker network inspect"))


def _major(version: str | None) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return None


def server_version(data: Any) -> str | None:
    if isinstance(data, dict):
        server = data.get("Server") or {}
        if isinstance(server, dict) and server.get("Version"):
            return str(server["Version"])
    return None


def _hashable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.dumps(value, sort_keys=True)


def daemon(config: Any, info: Any, version: str | None, file: str) -> DaemonOptions:
    """daemon.json keys over Docker's defaults; `docker info` tells the firewall backend when
    daemon.json does not (FirewallBackend, Docker 28+)."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ParseError("daemon.json must be a JSON object", file)
    info = info if isinstance(info, dict) else {}
    major = _major(version)
    backend = config.get("firewall-backend")
    if backend is None:
        fw = info.get("FirewallBackend")
        backend = fw.get("Driver") if isinstance(fw, dict) else None
    return DaemonOptions(
        userland_proxy=bool(config.get("userland-proxy", True)),
        iptables=bool(config.get("iptables", True)),
        ip6tables=bool(config.get("ip6tables", major is None or major >= 27)),
        firewall_backend=str(backend or "iptables"),
        ip_forward=bool(config.get("ip-forward", True)),
        version=version,
        raw=tuple(sorted((str(k), _hashable(v)) for k, v in config.items())),
    )
