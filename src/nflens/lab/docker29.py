"""What Docker 29 with `firewall-backend: nftables` writes, for hosts the lab cannot run it on.

Debian has no Docker 29, so its nftables backend cannot run here. These are the facts of
moby's code (commit b985e231, daemon/libnetwork/drivers/bridge/internal/nftabler/: nftabler.go
`init`, network.go `configure`, port.go `setPerPortForwarding`/`setPerPortDNAT`, endpoint.go
`filterDirectAccess`) and of its generated document
(integration/network/bridge/nftablesdoc/generated/*.md), restated as a small generator:

- two tables, `ip docker-bridges` and `ip6 docker-bridges`, re-created at every start; base
  chains filter-FORWARD (forward, priority filter, policy accept when ip_forward was already 1),
  nat-PREROUTING / nat-OUTPUT (priority dstnat; OUTPUT skips 127.0.0.0/8 while the userland
  proxy runs), nat-POSTROUTING (srcnat), raw-PREROUTING (raw); four `ifname : verdict` maps
  send a packet to the chains of the bridge it enters or leaves. No filter-INPUT chain: Docker
  does not use the input hook ("Packets arriving from the host's physical network or the host
  itself hit the filter-FORWARD chain").
- per network: `filter-forward-in__BR` (conntrack accept, ICC, one accept per published
  container port, then `drop comment "UNPUBLISHED PORT DROP"`), `filter-forward-out__BR`
  (conntrack, `accept comment "OUTGOING"`), `nat-postrouting-out__BR` (MASQUERADE of the
  subnet leaving the bridge); an --internal network drops what does not stay on its bridge
  and has no NAT and no published port.
- per endpoint of a "nat" network: `raw-PREROUTING ip daddr C iifname != BR drop comment
  "DROP DIRECT ACCESS"`.
- per published port: `nat-prerouting-and-output [ip daddr HOSTIP] iifname != BR tcp dport
  HP dnat to C:CP comment "DNAT"`; a binding on `::` for an IPv4 container gets no rule
  (docker-proxy carries it).

Priorities are numbers, as moby's nftables package writes them (nftables_linux.go: raw
-300, dstnat -100, filter 0, srcnat 100). The per-rule `counter` is what Docker adds; rule
order within a chain is moby's rule groups.
Only what the goldens need is here (proxy on, icc on, gateway mode nat).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

VERSION = "29.1.3"  # what the synthetic docker-version.json says
API = "1.52"


@dataclass(frozen=True)
class Publish:
    """`-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]`."""

    container_port: int
    host_port: int
    proto: str = "tcp"
    host_ip: str = ""  # "" = every address (Docker binds 0.0.0.0 and ::)

    def bindings(self) -> list[str]:
        return [self.host_ip] if self.host_ip else ["0.0.0.0", "::"]


@dataclass(frozen=True)
class Net:
    name: str
    subnet: str  # "172.17.0.0/16"
    internal: bool = False
    default: bool = False  # the default `bridge` network, on docker0
    subnet6: str = ""  # "fd17::/64": an IPv6 network too (--ipv6)

    @property
    def id(self) -> str:
        return _id("network", self.name)

    def prefix(self, fam: str) -> str:
        """Its subnet in nft family `fam` ("ip" / "ip6"), "" when it has none."""
        return self.subnet if fam == "ip" else self.subnet6

    def gw(self, fam: str) -> str:
        return str(ipaddress.ip_network(self.prefix(fam)).network_address + 1)

    def plen(self, fam: str) -> int:
        return ipaddress.ip_network(self.prefix(fam)).prefixlen

    @property
    def bridge(self) -> str:
        return "docker0" if self.default else "br-" + self.id[:12]

    @property
    def gateway(self) -> str:
        return self.gw("ip")

    @property
    def prefixlen(self) -> int:
        return self.plen("ip")


@dataclass(frozen=True)
class Ctr:
    name: str
    net: Net
    addr: str  # its IPv4 address on `net`
    ports: tuple[Publish, ...] = ()
    listen: tuple[int, ...] = (80,)  # TCP ports its server answers on
    addr6: str = ""  # its IPv6 address, on an IPv6 network

    @property
    def id(self) -> str:
        return _id("container", self.name)

    def address(self, fam: str) -> str:
        return self.addr if fam == "ip" else self.addr6


@dataclass(frozen=True)
class Engine:
    """The Docker side of a host: its networks and containers."""

    nets: tuple[Net, ...]
    containers: tuple[Ctr, ...] = field(default_factory=tuple)


def _id(kind: str, name: str) -> str:
    return hashlib.sha256(f"nflens-docker29-{kind}-{name}".encode()).hexdigest()


def _q(name: str) -> str:
    return f'"{name}"'


# -- the ruleset -------------------------------------------------------------------------------
def ruleset(engine: Engine) -> str:
    """`ip docker-bridges` and `ip6 docker-bridges` as nft text, in the order Docker makes them."""
    return _table("ip", engine) + "\n" + _table("ip6", engine)


def _table(fam: str, engine: Engine) -> str:
    """One family's table: only the networks with a subnet of that family have chains
    (network.go configure returns early without one)."""
    nets = [n for n in engine.nets if n.prefix(fam)]
    lines = [f"table {fam} docker-bridges {{"]
    for vmap, prefix in (("filter-forward-in-jumps", "filter-forward-in__"),
                         ("filter-forward-out-jumps", "filter-forward-out__"),
                         ("nat-postrouting-in-jumps", "nat-postrouting-in__"),
                         ("nat-postrouting-out-jumps", "nat-postrouting-out__")):
        lines += [f"\tmap {vmap} {{", "\t\ttype ifname : verdict"]
        if nets:
            elems = ", ".join(f"{_q(n.bridge)} : jump {prefix}{n.bridge}" for n in nets)
            lines.append(f"\t\telements = {{ {elems} }}")
        lines.append("\t}")
    skip_lo = "ip daddr != 127.0.0.0/8" if fam == "ip" else "ip6 daddr != ::1"
    lines += _chain("filter-FORWARD", "type filter hook forward priority 0; policy accept;",
                    ["oifname vmap @filter-forward-in-jumps",
                     "iifname vmap @filter-forward-out-jumps"])
    lines += _chain("nat-OUTPUT", "type nat hook output priority -100; policy accept;",
                    [f"{skip_lo} fib daddr type local counter jump nat-prerouting-and-output"])
    lines += _chain("nat-POSTROUTING", "type nat hook postrouting priority 100; policy accept;",
                    ["iifname vmap @nat-postrouting-out-jumps",
                     "oifname vmap @nat-postrouting-in-jumps"])
    lines += _chain("nat-PREROUTING", "type nat hook prerouting priority -100; policy accept;",
                    ["fib daddr type local counter jump nat-prerouting-and-output"])
    lines += _chain("nat-prerouting-and-output", "", _dnat(fam, engine))
    lines += _chain("raw-PREROUTING", "type filter hook prerouting priority -300; policy accept;",
                    _direct_access(fam, engine))
    for n in nets:
        lines += _network_chains(fam, n, engine)
    return "\n".join(lines + ["}"]) + "\n"


def _chain(name: str, head: str, rules: list[str]) -> list[str]:
    out = [f"\tchain {name} {{"] + ([f"\t\t{head}"] if head else [])
    return out + [f"\t\t{r}" for r in rules] + ["\t}"]


def _endpoints(fam: str, engine: Engine) -> list[Ctr]:
    return [c for c in engine.containers if c.address(fam) and not c.net.internal]


def _dnat(fam: str, engine: Engine) -> list[str]:
    """port.go setPerPortDNAT (proxy on: `iifname != BR`; IPv6 skips link-local sources): a
    binding whose host address is not of the container address's family is docker-proxy's."""
    out = []
    for c in _endpoints(fam, engine):
        target = c.address(fam) if fam == "ip" else f"[{c.address(fam)}]"
        for p in c.ports:
            for host_ip in p.bindings():
                if (":" in host_ip) != (fam == "ip6"):
                    continue
                ll = "ip6 saddr != fe80::/10 " if fam == "ip6" else ""
                daddr = "" if host_ip in ("0.0.0.0", "::") else f"{fam} daddr {host_ip} "
                out.append(f"iifname != {_q(c.net.bridge)} {ll}{daddr}{p.proto} dport "
                           f"{p.host_port} counter dnat to {target}:{p.container_port} "
                           "comment \"DNAT\"")
    return out


def _direct_access(fam: str, engine: Engine) -> list[str]:
    """endpoint.go filterDirectAccess: gateway mode nat, not internal."""
    return [f"{fam} daddr {c.address(fam)} iifname != {_q(c.net.bridge)} counter drop "
            "comment \"DROP DIRECT ACCESS\"" for c in _endpoints(fam, engine)]


def _network_chains(fam: str, n: Net, engine: Engine) -> list[str]:
    """network.go configure, port.go setPerPortForwarding, for one bridge network."""
    br = _q(n.bridge)
    ct = "ct state established,related counter accept"
    if n.internal:
        fwd_in = [ct, f"iifname != {br} counter drop comment \"INTERNAL NETWORK INGRESS\"",
                  "counter accept comment \"ICC\""]
        fwd_out = [ct, f"oifname != {br} counter drop comment \"INTERNAL NETWORK EGRESS\""]
        masq: list[str] = []
    else:
        ports = list(dict.fromkeys(f"{fam} daddr {c.address(fam)} {p.proto} dport "
                                   f"{p.container_port} counter accept"
                                   for c in _endpoints(fam, engine) if c.net == n
                                   for p in c.ports))
        fwd_in = [ct, f"iifname {br} counter accept comment \"ICC\"", *ports,
                  "counter drop comment \"UNPUBLISHED PORT DROP\""]
        fwd_out = [ct, "counter accept comment \"OUTGOING\""]
        masq = [f"oifname != {br} {fam} saddr {n.prefix(fam)} counter masquerade "
                "comment \"MASQUERADE\""]
    return (_chain(f"filter-forward-in__{n.bridge}", "", fwd_in)
            + _chain(f"filter-forward-out__{n.bridge}", "", fwd_out)
            + _chain(f"nat-postrouting-in__{n.bridge}", "", [])
            + _chain(f"nat-postrouting-out__{n.bridge}", "", masq))


# -- docker inspect, docker network inspect, info, version, daemon.json ------------------------
CREATED = "2026-12-07T12:00:00.000000000Z"


def _mac(c: Ctr) -> str:
    return "02:42:" + ":".join(c.id[i:i + 2] for i in range(0, 8, 2))


def container_json(c: Ctr) -> dict[str, Any]:
    """One `docker inspect` object as Docker 29 (API 1.52) prints it: the deprecated top-level
    NetworkSettings fields (IPAddress, Gateway, MacAddress, ...) are gone in 29."""
    bound: dict[str, list[dict[str, str]]] = {}
    asked: dict[str, list[dict[str, str]]] = {}
    for p in c.ports:
        key = f"{p.container_port}/{p.proto}"
        for host_ip in p.bindings():
            bound.setdefault(key, []).append({"HostIp": host_ip, "HostPort": str(p.host_port)})
        asked.setdefault(key, []).append({"HostIp": p.host_ip, "HostPort": str(p.host_port)})
    endpoint = _id("endpoint", c.name)
    return {
        "Id": c.id, "Created": CREATED, "Path": "httpd", "Args": ["-f", "-p", "80"],
        "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": 4242, "ExitCode": 0, "Error": "",
                  "StartedAt": CREATED, "FinishedAt": "0001-01-01T00:00:00Z"},
        "Name": f"/{c.name}",
        "HostConfig": {"NetworkMode": "bridge" if c.net.default else c.net.name,
                       "PortBindings": asked, "RestartPolicy": {"Name": "no",
                                                                "MaximumRetryCount": 0}},
        "Config": {"Hostname": c.id[:12], "ExposedPorts": {f"{p}/tcp": {} for p in c.listen},
                   "Image": "busybox:stable", "Labels": {}},
        "NetworkSettings": {
            "SandboxID": _id("sandbox", c.name),
            "SandboxKey": f"/var/run/docker/netns/{_id('sandbox', c.name)[:12]}",
            "Ports": {**{f"{p}/tcp": None for p in c.listen}, **bound},
            "Networks": {("bridge" if c.net.default else c.net.name): {
                "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": _mac(c),
                "DriverOpts": None, "GwPriority": 0, "NetworkID": c.net.id,
                "EndpointID": endpoint, "Gateway": c.net.gateway, "IPAddress": c.addr,
                "IPPrefixLen": c.net.prefixlen,
                "IPv6Gateway": c.net.gw("ip6") if c.addr6 else "",
                "GlobalIPv6Address": c.addr6,
                "GlobalIPv6PrefixLen": c.net.plen("ip6") if c.addr6 else 0,
                "DNSNames": None if c.net.default else [c.name]}},
        },
    }


def network_json(n: Net, engine: Engine) -> dict[str, Any]:
    opts = {"com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": "docker0",
            "com.docker.network.driver.mtu": "1500"} if n.default else {}
    members = {c.id: {"Name": c.name, "EndpointID": _id("endpoint", c.name), "MacAddress": _mac(c),
                      "IPv4Address": f"{c.addr}/{n.prefixlen}",
                      "IPv6Address": f"{c.addr6}/{n.plen('ip6')}" if c.addr6 else ""}
               for c in engine.containers if c.net == n}
    return {"Name": "bridge" if n.default else n.name, "Id": n.id, "Created": CREATED,
            "Scope": "local", "Driver": "bridge", "EnableIPv4": True,
            "EnableIPv6": bool(n.subnet6),
            "IPAM": {"Driver": "default", "Options": None if n.default else {},
                     "Config": [{"Subnet": n.prefix(f), "Gateway": n.gw(f)}
                                for f in ("ip", "ip6") if n.prefix(f)]},
            "Internal": n.internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": members,
            "Options": opts, "Labels": {}}


def _other_networks() -> list[dict[str, Any]]:
    return [{"Name": name, "Id": _id("network", name), "Created": CREATED, "Scope": "local",
             "Driver": driver, "EnableIPv4": True, "EnableIPv6": False,
             "IPAM": {"Driver": "default", "Options": None, "Config": None}, "Internal": False,
             "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
             "ConfigOnly": False, "Containers": {}, "Options": {}, "Labels": {}}
            for name, driver in (("host", "host"), ("none", "null"))]


DAEMON = {"firewall-backend": "nftables"}


def files(engine: Engine) -> dict[str, Any]:
    """The snapshot's Docker files (name -> JSON value)."""
    version = {"Client": {"Version": VERSION, "ApiVersion": API, "Os": "linux", "Arch": "amd64"},
               "Server": {"Components": [{"Name": "Engine", "Version": VERSION,
                                          "Details": {"ApiVersion": API}}],
                          "Version": VERSION, "ApiVersion": API, "MinAPIVersion": "1.24",
                          "Os": "linux", "Arch": "amd64"}}
    running = len(engine.containers)
    info = {"Containers": running, "ContainersRunning": running, "ServerVersion": VERSION,
            "Driver": "overlayfs", "CgroupDriver": "systemd", "CgroupVersion": "2",
            "OperatingSystem": "Debian GNU/Linux 13 (trixie)", "OSType": "linux",
            "FirewallBackend": {"Driver": "nftables"}, "SecurityOptions": [],
            "Warnings": None}
    return {"docker-containers.json": [container_json(c) for c in engine.containers],
            "docker-networks.json": [network_json(n, engine) for n in engine.nets]
            + _other_networks(),
            "docker-info.json": info, "docker-version.json": version, "daemon.json": DAEMON}
