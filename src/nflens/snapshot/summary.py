"""A plain-data summary of a Host, for `nflens snapshot show` (text and --json).

Data only: the CLI renders it (rich or JSON); nothing here prints.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nflens.ir.host import Host
from nflens.snapshot.read import KNOWN_FILES


def _interfaces(host: Host) -> list[dict[str, Any]]:
    return [{"name": i.name, "index": i.index, "kind": i.kind, "up": i.up, "mac": i.mac,
             "master": i.master, "peer_ifindex": i.peer_ifindex, "peer_netns": i.peer_netns,
             "addresses": [str(a.interface) for a in i.addresses]} for i in host.interfaces]


def _routes(host: Host) -> dict[str, int]:
    counts = Counter(f"{r.table} (IPv{r.dst.version})" for r in host.routes)
    return dict(sorted(counts.items()))


def _sockets(host: Host) -> list[dict[str, Any]]:
    return [{"proto": s.proto, "addr": "*" if s.dual_stack else str(s.addr), "port": s.port,
             "iface": s.iface, "process": s.process, "pid": s.pid} for s in host.sockets]


def _containers(host: Host) -> list[dict[str, Any]]:
    out = []
    for c in host.runtimes.containers:
        out.append({
            "name": c.name, "id": c.id[:12], "running": c.running, "network_mode": c.network_mode,
            "networks": [{"network": e.network, "ipv4": str(e.ipv4) if e.ipv4 else None,
                          "ipv6": str(e.ipv6) if e.ipv6 else None, "mac": e.mac}
                         for e in c.endpoints],
            "ports": [{"host_ip": p.host_ip, "host_port": p.host_port,
                       "container_port": p.container_port, "proto": p.proto} for p in c.ports],
        })
    return out


def _networks(host: Host) -> list[dict[str, Any]]:
    return [{"name": n.name, "id": n.id[:12], "driver": n.driver, "bridge": n.bridge,
             "subnets": [str(s) for s in n.subnets], "gateways": [str(g) for g in n.gateways],
             "internal": n.internal, "icc": n.icc, "masquerade": n.masquerade,
             "enable_ipv6": n.enable_ipv6, "gateway_mode_ipv4": n.gateway_mode_ipv4}
            for n in host.runtimes.networks]


def _tables(host: Host) -> list[dict[str, Any]]:
    return [{"family": t.family, "name": t.name, "origin": t.origin,
             "chains": [{"name": c.name, "hook": c.hook, "priority": c.priority,
                         "policy": c.policy, "rules": len(c.rules)} for c in t.chains]}
            for t in host.ruleset.tables]


def summarize(host: Host) -> dict[str, Any]:
    """Everything `snapshot show` displays, as JSON-ready data."""
    d = host.docker.daemon
    present = set(host.files)
    return {
        "name": host.name,
        "files": {"present": list(host.files),
                  "missing": [f for f in KNOWN_FILES if f not in present
                              and not (f == "nft.txt" and "nft.json" in present)
                              and not (f == "nft.json" and "nft.txt" in present)]},
        "assumptions": list(host.assumptions),
        "interfaces": _interfaces(host),
        "routes": _routes(host),
        "policy_rules": len(host.policy_rules),
        "sockets": _sockets(host),
        "containers": _containers(host),
        "networks": _networks(host),
        "daemon": {"version": d.version, "userland_proxy": d.userland_proxy,
                   "iptables": d.iptables, "ip6tables": d.ip6tables,
                   "firewall_backend": d.firewall_backend, "ip_forward": d.ip_forward},
        "ruleset": {"backend": host.ruleset.backend, "rules": host.ruleset.rule_count(),
                    "tables": _tables(host)},
        "unsupported": [{"file": u.file, "line": u.line, "text": u.text, "what": u.what}
                        for u in host.ruleset.unsupported],
    }
