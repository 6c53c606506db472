"""Small hand-built hosts for kernel tests: the shape of a Docker host, without any parser."""

from __future__ import annotations

import ipaddress as ip

from nflens.ir.host import (
    Address,
    Container,
    ContainerEndpoint,
    DockerState,
    Host,
    Interface,
    Network,
    PortBinding,
    Route,
    Socket,
)
from nflens.ir.rules import Action, Chain, Rule, Ruleset, Source, Table


def rule(*exprs, line: int = 1, text: str = "") -> Rule:
    return Rule(tuple(exprs), Source("test.rules", line, text or " ".join(e.name for e in exprs
                                                                        if isinstance(e, Action))))


def base(name: str, hook: str, priority: int, *rules: Rule, policy: str = "accept",
         type_: str = "filter") -> Chain:
    return Chain(name, tuple(rules), hook=hook, priority=priority, policy=policy, type=type_)


def docker_host(tables: tuple[Table, ...] = (), sockets: tuple[Socket, ...] = (),
                sysctls: tuple[tuple[str, str], ...] = ()) -> Host:
    """eth0 10.99.0.1/24 (LAN), eth1 198.51.100.1/24 (WAN), docker0 172.17.0.1/16 with
    container `shop` at 172.17.0.2 publishing 8080->80/tcp."""

    def iface(name, index, cidr, kind="veth", master=None):
        addrs = (Address(ip.ip_interface(cidr)),) if cidr else ()
        return Interface(name, index, kind, mac=f"02:00:00:00:00:{index:02x}", master=master,
                         addresses=addrs)

    interfaces = (
        Interface("lo", 1, "loopback",
                  addresses=(Address(ip.ip_interface("127.0.0.1/8"), "host"),)),
        iface("eth0", 2, "10.99.0.1/24"),
        iface("eth1", 3, "198.51.100.1/24"),
        iface("docker0", 4, "172.17.0.1/16", kind="bridge"),
        iface("vethshop", 6, None, master="docker0"),
    )
    routes = (
        Route(ip.ip_network("10.99.0.0/24"), dev="eth0", prefsrc=ip.ip_address("10.99.0.1")),
        Route(ip.ip_network("198.51.100.0/24"), dev="eth1", prefsrc=ip.ip_address("198.51.100.1")),
        Route(ip.ip_network("172.17.0.0/16"), dev="docker0", prefsrc=ip.ip_address("172.17.0.1")),
        Route(ip.ip_network("127.0.0.0/8"), "local", "local", "lo"),
        Route(ip.ip_network("10.99.0.1/32"), "local", "local", "eth0"),
        Route(ip.ip_network("198.51.100.1/32"), "local", "local", "eth1"),
        Route(ip.ip_network("172.17.0.1/32"), "local", "local", "docker0"),
    )
    net = Network("n1", "bridge", bridge="docker0", subnets=(ip.ip_network("172.17.0.0/16"),),
                  gateways=(ip.ip_address("172.17.0.1"),))
    shop = Container("c1", "/shop", endpoints=(ContainerEndpoint(
        "bridge", ip.ip_interface("172.17.0.2/16"), gateway4=ip.ip_address("172.17.0.1"),
        mac="02:42:ac:11:00:02"),), ports=(PortBinding(80, "tcp", "0.0.0.0", 8080),))
    return Host(Ruleset(tables), interfaces, routes, (), sockets, sysctls,
                DockerState((shop,), (net,)))
