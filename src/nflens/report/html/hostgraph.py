"""A host diagram as inline SVG: external interfaces, the host with its listening sockets,
Linux bridges (Docker networks) and the containers on them with addresses and published ports.
Which interface is external and which container sits on which bridge is the host model's
(nflens.kernel.topology); this module only lays the boxes out.

The red bar beside a container says that one of its published ports is reachable from an
ingress interface -- the audit's answer (`reachable`: container -> interfaces), drawn, never
recomputed. Without that answer, or when nobody can connect, there is no bar: it used to be
drawn beside every container that publishes a port, which the red "published" lines already
say, and so it claimed an exposure the audit may have disproved.

A big host (more than GROUP_ABOVE containers) is drawn per network: each bridge shows a few
containers (the reachable ones first, then those that publish a port) and one dashed box that
counts the rest, so a 400-container host is a page, not 28,000 pixels of boxes."""

from __future__ import annotations

from nflens.ir.host import Host
from nflens.kernel.topology import BridgeSite, Seat, topology
from nflens.report.html.page import esc

LINE = 15
GROUP_ABOVE = 12  # more containers than this: grouped per network
Reachable = dict[str, list[str]]  # container name -> interfaces a published port is reachable from


def _addrs(iface) -> list[str]:
    return [str(a.interface) for a in iface.addresses if a.scope != "link"]


def _published(c) -> list[str]:
    out = []
    for p in c.ports:
        if p.host_port is None:
            continue
        host_ip = p.host_ip or "0.0.0.0"
        out.append(f"{host_ip}:{p.host_port} → {p.container_port}/{p.proto}")
    return out


def _text_lines(x, y, lines, cls="") -> list[str]:
    return [f'<text class="{c or cls}" x="{x:.0f}" y="{y + LINE * i:.0f}">{esc(t)}</text>'
            for i, (t, c) in enumerate(lines)]


Box = tuple[float, float, float, float]  # x, y, width, height


def render_hostgraph(host: Host, reachable: Reachable | None = None) -> str:
    """Draw the host's topology (kernel/topology.py): uplinks left, the host in the middle,
    bridges and their containers right. `reachable`: the audit's exposure (module docstring)."""
    topo = topology(host)
    out: list[str] = []
    pos: dict[str, Box] = {}
    left_h = _uplinks(topo.uplinks, out, pos)
    right_h = 20.0
    seated = sum(len(site.seats) for site in topo.bridges)
    per_site = None if seated <= GROUP_ABOVE else \
        max(1, GROUP_ABOVE // max(1, sum(1 for site in topo.bridges if site.seats)))
    for site in topo.bridges:
        right_h = _bridge(site, right_h, out, pos, reachable or {}, per_site)
    for br, cname in topo.extra_links:
        if f"br:{br}" in pos and f"c:{cname}" in pos:
            bx, by, bw, bh = pos[f"br:{br}"]
            x, cy0, _, ch = pos[f"c:{cname}"]
            out.append(f'<path class="link" stroke-dasharray="4 3" d="M{bx + bw},{by + bh / 2:.0f} '
                       f'L{x},{cy0 + ch / 2:.0f}"/>')
    height = max(left_h, right_h, 160.0)
    hh = _host_box(host, height, out)
    for key, (x, yy, w, h) in pos.items():
        if key.startswith("if:"):
            out.append(f'<path class="link" d="M{x + w},{yy + h / 2:.0f} L290,{yy + h / 2:.0f}"/>')
        elif key.startswith("br:"):
            out.append(f'<path class="link" d="M510,{yy + min(h, 40) / 2:.0f} '
                       f'L{x},{yy + min(h, 40) / 2:.0f}"/>')
    total = max(height, hh + 30)
    return (f'<svg id="hostgraph" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'viewBox="0 0 1360 {total:.0f}" aria-label="host diagram">'
            + "\n".join(out) + "</svg>")


def _uplinks(uplinks, out: list[str], pos: dict[str, Box]) -> float:
    """The interfaces column; returns its height."""
    y = 20.0
    for i in uplinks:
        lines = [(i.name + ("" if i.up else " (down)"), "title")] + \
                [(a, "") for a in _addrs(i)]
        h = 14 + LINE * len(lines)
        out.append(f'<rect class="iface" x="20" y="{y:.0f}" width="210" height="{h:.0f}" rx="6"/>')
        out += _text_lines(32, y + 18, lines)
        pos[f"if:{i.name}"] = (20, y, 210, h)
        y += h + 16
    return y


def _grouped(site: BridgeSite, reachable: Reachable,
             per_site: int | None) -> tuple[list[Seat], list[Seat]]:
    """(containers drawn one box each, containers counted in one box). Grouped, the
    reachable ones come first, then those that publish a port, then by name."""
    if per_site is None or len(site.seats) <= per_site + 1:
        return list(site.seats), []
    ranked = sorted(site.seats, key=lambda s: (s.container.name not in reachable,
                                               not _published(s.container), s.container.name))
    return ranked[:per_site], ranked[per_site:]


def _bridge(site: BridgeSite, y: float, out: list[str], pos: dict[str, Box],
            reachable: Reachable, per_site: int | None) -> float:
    """One bridge at height `y` with its containers beside it; returns where the next starts."""
    b, net = site.interface, site.network
    lines = [(b.name, "title")]
    if net is not None:
        lines.append((f"network {net.name}" + (" (internal)" if net.internal else ""), "muted"))
    lines += [(a, "") for a in _addrs(b)]
    h = 14 + LINE * len(lines)
    cy = y
    shown, rest = _grouped(site, reachable, per_site)
    for seat in shown:
        cy = _container(seat, cy, out, pos, reachable.get(seat.container.name))
    if rest:
        cy = _group_box(b.name, rest, cy, out, pos, reachable)
    box_h = max(h, cy - y - 10)
    out.append(f'<rect class="bridge" x="560" y="{y:.0f}" width="240" height="{box_h:.0f}" '
               f'rx="6"/>')
    out += _text_lines(572, y + 18, lines)
    pos[f"br:{b.name}"] = (560, y, 240, box_h)
    for key in [f"c:{seat.container.name}" for seat in shown] + ([f"g:{b.name}"] if rest else []):
        x, cy0, _, ch = pos[key]
        out.append(f'<path class="link" d="M800,{cy0 + ch / 2:.0f} L900,{cy0 + ch / 2:.0f}"/>')
    return y + box_h + 20


def _group_box(bridge: str, rest: list[Seat], cy: float, out: list[str],
               pos: dict[str, Box], reachable: Reachable) -> float:
    """One dashed box counting the containers of a network not drawn one by one."""
    publishing = sum(1 for s in rest if _published(s.container))
    exposed = sum(1 for s in rest if s.container.name in reachable)
    lines = [(f"{len(rest)} more containers", "title"),
             (f"{publishing} publishing a port", "published-text" if publishing else "muted"),
             (f"{exposed} reachable from outside", "published-text" if exposed else "muted")]
    ch = 14 + LINE * len(lines)
    out.append(f'<rect class="container group" x="900" y="{cy:.0f}" width="440" '
               f'height="{ch:.0f}" rx="6"><title>{esc(", ".join(s.container.name for s in rest))}'
               '</title></rect>')
    out += _text_lines(912, cy + 18, lines)
    pos[f"g:{bridge}"] = (900, cy, 440, ch)
    return cy + ch + 10


def _container(seat: Seat, cy: float, out: list[str], pos: dict[str, Box],
               reached_from: list[str] | None = None) -> float:
    """One container box at height `cy`; returns where the next starts."""
    c, ep = seat.container, seat.endpoint
    clines = [(c.name + ("" if c.running else " (stopped)"), "title")]
    if ep.ipv4:
        clines.append((str(ep.ipv4), ""))
    if ep.ipv6:
        clines.append((str(ep.ipv6), ""))
    pubs = _published(c)
    clines += [(f"published {p}", "published-text") for p in pubs]
    ch = 14 + LINE * len(clines)
    out.append(f'<rect class="container" x="900" y="{cy:.0f}" width="440" '
               f'height="{ch:.0f}" rx="6"/>')
    if pubs and reached_from:
        out.append(f'<rect class="published" x="1330" y="{cy + 8:.0f}" width="8" '
                   f'height="{ch - 16:.0f}" rx="2"><title>a published port is reachable from '
                   f'{esc(", ".join(reached_from))}</title></rect>')
    out += _text_lines(912, cy + 18, clines)
    pos[f"c:{c.name}"] = (900, cy, 440, ch)
    return cy + ch + 10


def _host_box(host: Host, height: float, out: list[str]) -> float:
    """The host in the middle (drawn first, under the links); returns its height."""
    socks = [f"{s.proto} {s.addr}:{s.port} {s.process or ''}".rstrip() for s in host.sockets]
    fwd = host.sysctl("net.ipv4.ip_forward", "?")
    hlines = [(f"host {host.name}", "title"), (f"ip_forward={fwd}", "muted"),
              ("listening:", "muted")] + [(s, "") for s in socks[:12]]
    if len(socks) > 12:
        hlines.append((f"… {len(socks) - 12} more", "muted"))
    hh = max(height - 20, 14 + LINE * len(hlines))
    out.insert(0, f'<rect class="box" x="290" y="20" width="220" height="{hh:.0f}" rx="8"/>')
    out += _text_lines(302, 38, [(t[:30], c) for t, c in hlines])
    return hh
