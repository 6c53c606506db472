"""Docker's own golden rule dumps: the iptables and the nftables backend must behave alike.

moby's bridge-driver tests (../shared/corpus/moby) dump the rules Docker 28/29 writes for one
network `br-dummy` (192.168.0.0/24, gateway .1) with a container at 192.168.0.2 publishing
8080->80/tcp, once per configuration. We put each dump on the same host and ask the same flows;
every configuration that has both goldens must give the same verdicts under both, and the basic
ones must do what Docker's docs (moby/iptablesdoc, nftablesdoc) say.
"""

from __future__ import annotations

import ipaddress as ip

import pytest

from nflens.ir.host import (
    Address,
    Container,
    ContainerEndpoint,
    DaemonOptions,
    DockerState,
    Host,
    Interface,
    Network,
    PortBinding,
    Route,
    Socket,
)
from nflens.ir.packet import Endpoint, Flow
from nflens.kernel.simulate import Simulator
from tests.conftest import CORPUS

MOBY = CORPUS / "moby"


def _config(name: str) -> dict[str, str]:
    return dict(kv.partition("=")[::2] for kv in name.split("__")[0].split(","))


def docker_host(ruleset, cfg: dict[str, str]) -> Host:
    proxy = cfg.get("hairpin") != "true"
    bind = "127.0.0.1" if cfg.get("bindlh") == "true" else "0.0.0.0"

    def a(cidr, scope="global"):
        return (Address(ip.ip_interface(cidr), scope),)

    interfaces = (
        Interface("lo", 1, "loopback", addresses=a("127.0.0.1/8", "host")),
        Interface("eth0", 2, "veth", addresses=a("10.0.0.1/24")),
        Interface("br-dummy", 3, "bridge", mac="02:42:00:00:00:01", addresses=a("192.168.0.1/24")),
        Interface("veth1", 4, "veth", master="br-dummy"),
        Interface("veth2", 5, "veth", master="br-dummy"),
    )
    routes = (
        Route(ip.ip_network("10.0.0.0/24"), dev="eth0", prefsrc=ip.ip_address("10.0.0.1")),
        Route(ip.ip_network("192.168.0.0/24"), dev="br-dummy",
              prefsrc=ip.ip_address("192.168.0.1")),
        Route(ip.ip_network("127.0.0.0/8"), "local", "local", "lo"),
        Route(ip.ip_network("10.0.0.1/32"), "local", "local", "eth0"),
        Route(ip.ip_network("192.168.0.1/32"), "local", "local", "br-dummy"),
    )
    net = Network("n", "dummy", bridge="br-dummy", subnets=(ip.ip_network("192.168.0.0/24"),),
                  gateways=(ip.ip_address("192.168.0.1"),), internal=cfg.get("internal") == "true",
                  icc=cfg.get("icc") != "false")

    def container(cid, name, addr, mac, ports=()):
        ep = ContainerEndpoint("dummy", ip.ip_interface(f"{addr}/24"),
                               gateway4=ip.ip_address("192.168.0.1"), mac=mac)
        return Container(cid, name, endpoints=(ep,), ports=ports, exposed=((80, "tcp"),))

    web = container("c1", "/web", "192.168.0.2", "02:42:c0:a8:00:02",
                    (PortBinding(80, "tcp", bind, 8080),))
    peer = container("c2", "/peer", "192.168.0.3", "02:42:c0:a8:00:03")
    sockets = (Socket("tcp", ip.ip_address(bind), 8080, "docker-proxy"),) if proxy else ()
    return Host(ruleset, interfaces, routes, (), sockets, (),
                DockerState((web, peer), (net,), DaemonOptions(userland_proxy=proxy)))


FLOWS = {
    "published-from-outside": Flow("p", Endpoint(iface="eth0", src=ip.ip_address("10.0.0.2")),
                                   ip.ip_address("10.0.0.1"), 8080),
    "direct-from-outside": Flow("d", Endpoint(iface="eth0", src=ip.ip_address("10.0.0.2")),
                                ip.ip_address("192.168.0.2"), 80),
    "container-to-container": Flow("c", Endpoint(container="peer"),
                                   ip.ip_address("192.168.0.2"), 80),
    "egress": Flow("e", Endpoint(container="web"), ip.ip_address("10.0.0.2"), 80),
    "host-loopback": Flow("l", Endpoint(host=True), ip.ip_address("127.0.0.1"), 8080),
}


def verdicts(ruleset, cfg) -> dict[str, str]:
    sim = Simulator(docker_host(ruleset, cfg))
    return {name: sim.run(flow).verdict for name, flow in FLOWS.items()}


def _pairs():
    if not MOBY.is_dir():
        return []
    out = []
    for nft in sorted((MOBY / "TestNftabler").glob("*__ip.golden")):
        cfg_name = nft.name[: -len("__ip.golden")]
        ipt = MOBY / "TestIptabler" / f"{cfg_name}__iptables.golden"
        if ipt.exists() and "wsl2mirrored" not in cfg_name:
            out.append(pytest.param(cfg_name, ipt, nft, id=cfg_name))
    return out


@pytest.mark.lab  # nft text is loaded through the real nft binary in a scratch namespace
@pytest.mark.parametrize("cfg_name,ipt,nft", _pairs())
def test_iptables_and_nftables_goldens_give_the_same_verdicts(cfg_name, ipt, nft):
    from nflens.dialects import iptables
    from nflens.dialects import nft as nftd

    cfg = _config(cfg_name)
    by_iptables = verdicts(iptables.parse(ipt.read_text(), str(ipt)), cfg)
    by_nftables = verdicts(nftd.parse_text(nft.read_text(), str(nft)), cfg)
    assert by_iptables == by_nftables


# What moby's docs say (iptablesdoc/usernet-portmap.md, -routed.md, -natunprot.md, -lo.md,
# usernet-internal.md, -noicc.md): published port open, direct access blocked in nat mode;
# routed mode: the container port is reachable directly, no DNAT; internal: nothing in or out.
DOCS = [
    ("hairpin=false,internal=false,icc=true,masq=true,snat=false,gwm=nat,bindlh=false",
     {"published-from-outside": "allow", "direct-from-outside": "deny",
      "container-to-container": "allow", "egress": "allow", "host-loopback": "allow"}),
    ("hairpin=false,internal=false,icc=true,masq=true,snat=false,gwm=nat-unprotected,bindlh=false",
     {"published-from-outside": "allow", "direct-from-outside": "allow"}),
    ("hairpin=false,internal=false,icc=true,masq=true,snat=false,gwm=routed,bindlh=false",
     {"direct-from-outside": "allow", "container-to-container": "allow"}),
    ("hairpin=false,internal=false,icc=false,masq=true,snat=false,gwm=nat,bindlh=false",
     {"container-to-container": "deny", "published-from-outside": "allow"}),
    ("hairpin=false,internal=false,icc=true,masq=true,snat=false,gwm=nat,bindlh=true",
     {"published-from-outside": "deny", "host-loopback": "allow"}),
    ("hairpin=false,internal=true,icc=true",
     {"egress": "deny", "direct-from-outside": "deny", "container-to-container": "allow"}),
]


@pytest.mark.parametrize("cfg_name,expected", DOCS, ids=[d[0] for d in DOCS])
def test_iptables_goldens_do_what_dockers_docs_say(corpus, cfg_name, expected):
    from nflens.dialects import iptables

    path = MOBY / "TestIptabler" / f"{cfg_name}__iptables.golden"
    got = verdicts(iptables.parse(path.read_text(), str(path)), _config(cfg_name))
    assert {k: got[k] for k in expected} == expected
