"""The native-nftables hosts the lab proves (lab/nfthost.py builds them).

Docker 29 with `firewall-backend: nftables` (synthetic: lab/docker29.py writes its tables and
`docker inspect` output from moby's code), each beside the admin's own /etc/nftables.conf:

- `published` — seed 001's story on nftables: `inet filter input` policy drop allows the host
  service 8000 from the LAN only, yet the published port 8080 is open from the WAN: a
  published port is forwarded, and the input hook never sees it.
- `hostaddr` — `-p 10.99.0.1:8080:80`: bound to the LAN address, but Docker's DNAT matches the
  destination address only, so the WAN client that routes to 10.99.0.1 through the host's WAN
  interface reaches the container too.
- `internal` — an --internal network beside docker0: nothing enters or leaves it but the host.
- `dualstack` — docker0 with IPv6 (`fd17::/64`): `ip6 docker-bridges` DNATs, masquerades and
  drops direct access as its IPv4 twin does; the admin's input policy drop, again, never
  sees the published port.
- `forward_drop` — seed 005's story: the admin's `inet filter forward` policy drop beside
  Docker's filter-FORWARD; Docker's accept ends only its own base chain, so the admin's chain
  drops every forwarded connection (published port and container egress alike).

And `native` — no Docker: a hand-written /etc/nftables.conf with `inet filter` input policy
drop (ssh and the LAN's service only) and `ip nat` with a DNAT of port 8080 to a VM behind a
plain bridge (`virbr0`) and a masquerade of the VM's egress.

`python -m nflens.lab.nftgoldens OUT [NAME ...]` (root) rebuilds them into OUT/<name>/
(tests/fixtures/docker29_nft for the Docker ones, tests/fixtures/nft_native for `native`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from nflens.lab import docker29
from nflens.lab.docker29 import Ctr, Engine, Net, Publish
from nflens.lab.nfthost import Guest, NftHost, Proxy
from nflens.lab.scenarios import FlowSpec

NFT_HEAD = "#!/usr/sbin/nft -f\n\nflush ruleset\n\n"  # Debian's /etc/nftables.conf starts so

ADMIN_INPUT = """table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport 22 accept
		iifname "eth0" tcp dport 8000 accept
		meta l4proto { icmp, ipv6-icmp } accept
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
	}

	chain output {
		type filter hook output priority filter; policy accept;
	}
}
"""

ADMIN_FORWARD_DROP = """table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
	}

	chain output {
		type filter hook output priority filter; policy accept;
	}
}
"""

DOCKER0 = Net("bridge", "172.17.0.0/16", default=True)
BACKEND = Net("backend", "172.20.0.0/16", internal=True)


def _docker_host(name: str, title: str, admin: str, engine: Engine,
                 flows: tuple[FlowSpec, ...], services: tuple[int, ...] = (8000, 22)
                 ) -> NftHost:
    """A Docker 29 host: the admin's nftables.conf loaded first (nftables.service runs before
    docker.service), then Docker's tables; guests and docker-proxies from the engine."""
    guests = tuple(Guest(c.name, c.net.bridge, f"{c.addr}/{c.net.prefixlen}", c.net.gateway,
                         c.listen, cidr6=f"{c.addr6}/{c.net.plen('ip6')}" if c.addr6 else "",
                         gateway6=c.net.gw("ip6") if c.addr6 else "")
                   for c in engine.containers)
    # docker-proxy: a `::` binding goes to the container's IPv6 address when it has one
    proxies = tuple(Proxy(ip, p.host_port, c.addr6 if ":" in ip and c.addr6 else c.addr,
                          p.container_port)
                    for c in engine.containers if not c.net.internal
                    for p in c.ports for ip in p.bindings())
    return NftHost(name, title, admin + "\n" + docker29.ruleset(engine), flows,
                   bridges=tuple((n.bridge, f"{n.gw(f)}/{n.plen(f)}") for n in engine.nets
                                 for f in ("ip", "ip6") if n.prefix(f)),
                   ipv6=any(n.subnet6 for n in engine.nets),
                   guests=guests, proxies=proxies, host_services=services,
                   files=docker29.files(engine),
                   persist={"etc/nftables.conf": NFT_HEAD + admin} if admin else {})


WEB = Ctr("web", DOCKER0, "172.17.0.2", (Publish(80, 8080),))

PUBLISHED = _docker_host(
    "published", "Docker 29 nftables: a published port beside inet filter input policy drop",
    ADMIN_INPUT, Engine((DOCKER0,), (WEB,)), (
        FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
        FlowSpec("wan-web", "eth1", "198.51.100.1", 8080, note="the bypass: input never sees it"),
        FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
        FlowSpec("wan-hostsvc", "eth1", "198.51.100.1", 8000),
        FlowSpec("wan-ssh", "eth1", "198.51.100.1", 22),
        FlowSpec("local-web", "host", "127.0.0.1", 8080),
        FlowSpec("local-web6", "host", "::1", 8080),
        FlowSpec("host-web-direct", "host", "172.17.0.2", 80),
        FlowSpec("wan-web-direct", "eth1", "172.17.0.2", 80),
        FlowSpec("web-to-host", "container:web", "172.17.0.1", 8000),
        FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
        FlowSpec("wan-to-lan-peer", "eth1", "10.99.0.2", 80),
    ))

HOSTADDR = _docker_host(
    "hostaddr", "Docker 29 nftables: a port published on the LAN address only",
    ADMIN_INPUT, Engine((DOCKER0,), (Ctr("web", DOCKER0, "172.17.0.2",
                                         (Publish(80, 8080, host_ip="10.99.0.1"),)),)), (
        FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
        FlowSpec("wan-web-lanaddr", "eth1", "10.99.0.1", 8080,
                 note="DNAT matches the address, not the interface"),
        FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
        FlowSpec("local-web", "host", "10.99.0.1", 8080),
        FlowSpec("local-web-lo", "host", "127.0.0.1", 8080),
        FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
        FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
    ))

INTERNAL = _docker_host(
    "internal", "Docker 29 nftables: an --internal network beside docker0",
    "", Engine((DOCKER0, BACKEND), (WEB, Ctr("db", BACKEND, "172.20.0.2"))), (
        FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
        FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
        FlowSpec("lan-db-direct", "eth0", "172.20.0.2", 80),
        FlowSpec("host-db", "host", "172.20.0.2", 80),
        FlowSpec("db-egress", "container:db", "198.51.100.2", 80),
        FlowSpec("db-to-host", "container:db", "172.20.0.1", 8000),
        FlowSpec("web-to-db", "container:web", "172.20.0.2", 80),
        FlowSpec("db-to-web", "container:db", "172.17.0.2", 80),
        FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
    ))

FORWARD_DROP = _docker_host(
    "forward_drop", "Docker 29 nftables beside inet filter forward policy drop (seed 005)",
    ADMIN_FORWARD_DROP, Engine((DOCKER0,), (WEB,)), (
        FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
        FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
        FlowSpec("local-web", "host", "127.0.0.1", 8080),
        FlowSpec("host-web-direct", "host", "172.17.0.2", 80),
        FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
        FlowSpec("web-to-host", "container:web", "172.17.0.1", 8000),
        FlowSpec("lan-to-wan-peer", "eth0", "198.51.100.2", 80),
    ))

DUAL = Net("bridge", "172.17.0.0/16", default=True, subnet6="fd17::/64")

DUALSTACK = _docker_host(
    "dualstack", "Docker 29 nftables: an IPv6 bridge network (--ipv6), a published port",
    ADMIN_INPUT, Engine((DUAL,), (Ctr("web", DUAL, "172.17.0.2", (Publish(80, 8080),),
                                      addr6="fd17::2"),)), (
        FlowSpec("lan-web6", "eth0", "2001:db8:1::1", 8080),
        FlowSpec("wan-web6", "eth1", "2001:db8:2::1", 8080, note="input never sees it (ip6)"),
        FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
        FlowSpec("wan-web6-direct", "eth1", "fd17::2", 80),
        FlowSpec("lan-hostsvc6", "eth0", "2001:db8:1::1", 8000),
        FlowSpec("wan-hostsvc6", "eth1", "2001:db8:2::1", 8000),
        FlowSpec("local-web6", "host", "2001:db8:1::1", 8080),
        FlowSpec("local-web6-lo", "host", "::1", 8080),
        FlowSpec("host-web6-direct", "host", "fd17::2", 80),
        FlowSpec("web-egress6", "container:web", "2001:db8:2::2", 80),
        FlowSpec("web-to-host6", "container:web", "fd17::1", 8000),
    ))

NATIVE_CONF = ADMIN_INPUT + """
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 8080 dnat to 192.168.122.50:80
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 192.168.122.0/24 oifname != "virbr0" masquerade
	}
}
"""

NATIVE = NftHost(
    "native", "a hand-written /etc/nftables.conf: input policy drop, DNAT to a VM",
    NATIVE_CONF, (
        FlowSpec("lan-vm-dnat", "eth0", "10.99.0.1", 8080),
        FlowSpec("wan-vm-dnat", "eth1", "198.51.100.1", 8080,
                 note="forwarded: the input chain's drop never sees it"),
        FlowSpec("wan-vm-direct", "eth1", "192.168.122.50", 80),
        FlowSpec("lan-hostsvc", "eth0", "10.99.0.1", 8000),
        FlowSpec("wan-hostsvc", "eth1", "198.51.100.1", 8000),
        FlowSpec("wan-ssh", "eth1", "198.51.100.1", 22),
        FlowSpec("vm-egress", "virbr0", "198.51.100.2", 80),
        FlowSpec("vm-host", "virbr0", "192.168.122.1", 8000),
        FlowSpec("host-vm", "host", "192.168.122.50", 80),
    ),
    bridges=(("virbr0", "192.168.122.1/24"),),
    guests=(Guest("vm", "virbr0", "192.168.122.50/24", "192.168.122.1", container=False),),
    host_services=(8000, 22),
    persist={"etc/nftables.conf": NFT_HEAD + NATIVE_CONF},
)

HOSTS = {h.name: h for h in (PUBLISHED, HOSTADDR, INTERNAL, FORWARD_DROP, DUALSTACK, NATIVE)}
DOCKER29 = ("published", "hostaddr", "internal", "forward_drop", "dualstack")


def main(argv: list[str]) -> int:
    """Rebuild goldens: OUT [NAME ...] (root; each host is built, probed and torn down)."""
    from nflens.lab import nfthost
    from nflens.lab.netns import Lab

    out, names = Path(argv[0]), argv[1:] or list(HOSTS)
    for name in names:
        with Lab() as lab:
            built = nfthost.build(lab, HOSTS[name])
            expected = nfthost.write_golden(built, out / name)
        print(name, " ".join(f"{k}={v}" for k, v in expected.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
