"""`trace --from/--to` read against the snapshot (issue 29.10): a container name where an
address goes (`--to shop:80/tcp`), a source address without its interface (`--from
198.51.100.2`).

Both are guesses only in name: a container's address is in the snapshot, and the interface a
source arrives on is, for the kernel's reverse-path check (rp_filter, net/ipv4/fib_frontend.c
fib_validate_source), the one the host routes answers to that source out of — so that is the
interface inferred, and the command says which one it took.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import typer

from nflens.errors import FlowError
from nflens.flows import Addr, parse_from, parse_to
from nflens.ir.host import Host
from nflens.ir.packet import Endpoint
from nflens.literal import names, quoted


def container_resolver(host: Host) -> Callable[[str], Addr]:
    """A name -> the address of the container of that name (IPv4 first), or FlowError."""
    def resolve(name: str) -> Addr:
        container = host.runtimes.container(name)
        if container is None:
            known = names(c.name.lstrip("/") for c in host.runtimes.containers) or "none"
            raise FlowError(f"{quoted(name)} is neither an address nor a container of this "
                            f"snapshot (containers: {known})")
        for ep in container.endpoints:
            for net in (ep.ipv4, ep.ipv6):
                if net is not None:
                    return net.ip
        raise FlowError(f"container {quoted(name)} has no address on a Docker network")
    return resolve


def interface_inferrer(host: Host, route: Callable[[Addr], object]) -> Callable[[Addr], str]:
    """A source address -> the interface whose route covers it (where answers go out), or
    FlowError listing the interfaces."""
    def infer(src: Addr) -> str:
        found = route(src)
        oif = getattr(found, "oif", None)
        if getattr(found, "type", None) == "unicast" and oif:
            typer.echo(f"--from {src}: arriving on {oif} (inferred: the host's route to {src} "
                       f"goes out of {oif}; write IFACE:{src} to choose another)", err=True)
            return str(oif)
        known = names(i.name for i in host.interfaces) or "none"
        why = "it is one of the host's own addresses" \
            if getattr(found, "type", None) == "local" else "no route of the host covers it"
        raise FlowError(f"--from {src}: no ingress interface to infer ({why}); write "
                        f"IFACE:{src} with one of: {known}")
    return infer


def trace_endpoints(src: str, dst: str, host: Host, route: Callable[[Addr], object]
                    ) -> tuple[Endpoint, Addr, int | None, str]:
    """--from and --to of `trace`, names and bare addresses resolved against `host`."""
    addr, port, proto = parse_to(dst, container_resolver(host))
    if src.startswith("[") or _is_addr(src):
        return parse_from(src, interface_inferrer(host, route)), addr, port, proto
    return parse_from(src), addr, port, proto


def _is_addr(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
