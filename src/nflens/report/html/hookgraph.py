"""The netfilter hook graph of a host as inline SVG, with one flow's path drawn through it.

Layout is computed here, in Python (no script in the page). Each lane is one family group —
IP (ip+inet or ip6+inet), bridge, arp — drawn in the classic shape:

    in ─▶ PREROUTING ─▶ routing ─▶ FORWARD ─▶ POSTROUTING ─▶ out
                          │                       ▲
                          ▼                       │
                        INPUT ─▶ local ─▶ OUTPUT ─┘

Every hook box lists its base chains in priority order (table, chain, priority, origin, Docker's
marked). The path of each direction is derived from the trace steps only (reports never
recompute): original and reply in two colours, NAT rewrites as labels tied to the edge that
leaves the hook where they happened, the base chain holding the deciding rule outlined.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from nflens.ir.rules import Ruleset
from nflens.kernel.pipeline import BaseChain, Pipeline
from nflens.kernel.trace import (
    BridgeStep,
    EndpointStep,
    HookStep,
    NatStep,
    PacketStep,
    PolicyStep,
    RouteStep,
    RuleStep,
    Step,
)
from nflens.report.html.page import esc

# one row of a hook box: (family, table, chain, hook) of a base chain or None for conntrack,
# the label, the priority, the note
HookRow = tuple[tuple[str, str, str, str] | None, str, str, str]
HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
IP_FAMILIES = {4: ("ip", "inet"), 6: ("ip6", "inet")}
DIRECTIONS = ("original", "reply")
W = 1400
HOOK_W, END_W, MID_W = 224, 132, 108
ROW_H, HEAD_H = 30, 26
COL_X = {"in": 76, "prerouting": 318, "route": 556, "forward": 796, "postrouting": 1066,
         "out": 1318, "input": 556, "local": 796, "output": 1066}
TOP = ("in", "prerouting", "route", "forward", "postrouting", "out")
BOTTOM = ("input", "local", "output")
SKELETON = (("in", "prerouting"), ("prerouting", "route"), ("route", "forward"),
            ("forward", "postrouting"), ("postrouting", "out"), ("route", "input"),
            ("input", "local"), ("local", "output"), ("output", "postrouting"))


@dataclass
class Box:
    id: str
    x: float
    y: float
    w: float
    h: float
    title: str
    kind: str  # hook, end, route
    rows: list = field(default_factory=list)  # (chain key | None, line1, line2, classes)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def is_docker(table, chain) -> bool:
    """Docker's own chains: named DOCKER*, in a docker table, or jumping to Docker's chains."""
    if chain.name.upper().startswith("DOCKER") or "docker" in table.name.lower():
        return True
    return any("DOCKER" in r.text or "docker" in r.text for r in chain.rules)


def flow_version(steps: list[Step]) -> int:
    for s in steps:
        if isinstance(s, HookStep) and s.family in ("ip", "ip6"):
            return 4 if s.family == "ip" else 6
    for s in steps:
        if isinstance(s, RouteStep):
            try:
                return ipaddress.ip_address(s.dst).version
            except ValueError:
                continue
    return 4


# --- the path, from the steps -------------------------------------------------------------
def _phase_node(phase: str) -> str | None:
    if phase.startswith("in "):
        return "ip:prerouting"
    return {"input": "ip:input", "forward": "ip:forward", "postrouting": "ip:postrouting",
            "output": "ip:output"}.get(phase)


def _nodes_for(step: Step) -> list[str]:
    phase = step.phase
    if phase.startswith("arp "):
        return []
    if isinstance(step, PacketStep):
        if phase.startswith("in "):
            if "(port " in phase:
                return ["br:in", "br:prerouting", "br:input", "ip:prerouting"]
            return ["ip:in", "ip:prerouting"]
        if phase.startswith("out "):
            return ["ip:out"]
        if phase == "output":
            return ["ip:local", "ip:output"]
        return []
    if isinstance(step, HookStep):
        if step.family in ("ip", "ip6", "inet"):
            return [f"ip:{step.hook}"]
        if step.family == "bridge":
            return [f"br:{step.hook}"]
        if step.family == "arp":
            return [f"arp:{step.hook}"]
        return []
    if isinstance(step, RouteStep):
        return ["ip:route"] if phase.startswith("in ") else []
    if isinstance(step, BridgeStep):
        if not step.in_port and step.out_port:
            return ["br:output", "br:postrouting", "br:out"]
        if step.in_port and not step.out_port:
            return ["br:in", "br:prerouting", "br:input"]
        if step.in_port and step.out_port:
            return ["br:in", "br:prerouting", "br:route", "br:forward", "br:postrouting", "br:out"]
        return []
    if isinstance(step, EndpointStep):
        if phase in ("input", "docker-proxy"):
            return ["ip:local"]
        if phase.startswith("out "):
            return ["ip:out"]
        if phase.startswith("container "):
            return ["br:out"]
        return []
    node = _phase_node(phase)
    return [node] if node else []


def path_of(steps: list[Step], direction: str, drawn: set[str]) -> list[str]:
    """The sequence of graph nodes one direction went through (each node once)."""
    seq: list[str] = []
    for s in steps:
        if s.direction != direction:
            continue
        for node in _nodes_for(s):
            if node in drawn and node not in seq:
                seq.append(node)
    return seq


def _nat_label(step: NatStep) -> str:
    before = step.before.split(" ")
    after = step.after.split(" ")
    if len(before) >= 4 and len(after) >= 4:
        changed = [f"{b} → {a}" for b, a in ((before[1], after[1]), (before[3], after[3]))
                   if b != a]
        if changed:
            return f"{step.nat} ({step.by}): " + ", ".join(changed)
    return f"{step.nat} ({step.by}): {step.before} → {step.after}"


def decider_chain(steps: list[Step], result) -> tuple[str, str, str] | None:
    """(family, table, base chain) that holds the deciding rule or policy."""
    if result.stopped_policy is not None:
        fam, table, chain, _ = result.stopped_policy
        return fam, table, chain
    ref = result.stopped_at
    if ref is None:
        return None
    last_hook = None
    found = None
    for s in steps:
        if isinstance(s, HookStep):
            last_hook = s
        elif (isinstance(s, RuleStep) and s.matched is True and s.family == ref.family
              and s.table == ref.table and s.chain == ref.chain and s.index == ref.index
              and last_hook is not None):
            found = (last_hook.family, last_hook.table, last_hook.chain)
    return found


def decider_step_index(steps: list[Step], result) -> int | None:
    """Index in `steps` of the RuleStep (or the last HookStep for a policy) that decided."""
    ref = result.stopped_at
    hit = None
    if ref is not None:
        for i, s in enumerate(steps):
            if (isinstance(s, RuleStep) and s.matched is True and s.family == ref.family
                    and s.table == ref.table and s.chain == ref.chain and s.index == ref.index):
                hit = i
    elif result.stopped_policy is not None:
        fam, table, chain, _ = result.stopped_policy
        for i, s in enumerate(steps):
            if (isinstance(s, PolicyStep) and s.family == fam and s.table == table
                    and s.chain == chain):
                hit = i
    return hit


# --- layout ------------------------------------------------------------------------------
class Graph:
    def __init__(self, ruleset: Ruleset, steps: list[Step], result=None):
        self.pipeline = Pipeline(ruleset)
        self.steps = steps
        self.result = result
        self.version = flow_version(steps)
        self.boxes: dict[str, Box] = {}
        self.lanes: list[tuple[str, str, float, float]] = []  # (prefix, label, y0, y1)
        self.entered = {d: {(s.family, s.table, s.chain, s.hook) for s in steps
                            if isinstance(s, HookStep) and s.direction == d} for d in DIRECTIONS}
        self.decider = decider_chain(steps, result) if result is not None else None
        self.decider_row: tuple[str, int] | None = None
        has_bridge = bool([k for k in self.pipeline.index if k[0] == "bridge"]) or \
            any(isinstance(s, BridgeStep) or (isinstance(s, PacketStep) and "(port " in s.phase)
                for s in steps)
        has_arp = any(k[0] == "arp" for k in self.pipeline.index)
        self.ends = self._end_labels()
        y = 0.0
        self.nat_band = self._nat_labels()
        y += 28 + 22 * len(self.nat_band)
        fam = "IPv4" if self.version == 4 else "IPv6"
        fams = " + ".join(IP_FAMILIES[self.version])
        y = self._lane("ip", f"{fam} — families {fams}", self.version, y,
                       ("routing", "decision"), ("local process", ""))
        if has_bridge:
            y = self._lane("br", "bridge — family bridge (ebtables, nft bridge)", "bridge", y + 24,
                           ("bridge FDB", "port → port"), ("to/from", "IP stack"))
        if has_arp:
            y = self._lane("arp", "ARP — family arp (arptables, nft arp)", "arp", y + 24,
                           None, ("ARP stack", ""))
        self.height = y + 20

    def _end_labels(self) -> dict[str, list[tuple[str, str]]]:
        """Lines shown inside the end boxes (interfaces, ports, endpoints), per direction."""
        ends: dict[str, list[tuple[str, str]]] = {}

        def add(node, text, d):
            lines = ends.setdefault(node, [])
            cls = "f-orig" if d == "original" else "f-reply"
            if (text, cls) not in lines:
                lines.append((text, cls))

        for s in self.steps:
            if s.direction not in DIRECTIONS:
                continue
            if isinstance(s, PacketStep) and s.phase.startswith("in "):
                name = s.phase[3:]
                if "(port " in name:
                    iface, port = name.split(" (port ", 1)
                    add("br:in", port.rstrip(")"), s.direction)
                else:
                    add("ip:in", name, s.direction)
            elif isinstance(s, PacketStep) and s.phase.startswith("out "):
                add("ip:out", s.phase[4:], s.direction)
            elif isinstance(s, EndpointStep):
                if s.phase.startswith("container "):
                    add("br:out", s.phase[len("container "):], s.direction)
                elif s.phase in ("input", "docker-proxy"):
                    add("ip:local", s.endpoint.split(" on ")[0], s.direction)
            elif isinstance(s, BridgeStep):
                if s.out_port:
                    add("br:out", s.out_port, s.direction)
                if s.in_port:
                    add("br:in", s.in_port, s.direction)
        return ends

    def _nat_labels(self) -> list[tuple[str, str, str]]:
        """(direction, node the rewrite happened at, label)."""
        out = []
        for s in self.steps:
            if isinstance(s, NatStep) and s.direction in DIRECTIONS:
                node = _phase_node(s.phase) or "ip:prerouting"
                out.append((s.direction, node, _nat_label(s)))
        return out

    def _hook_rows(self, key, hook: str, prefix: str) -> list[HookRow]:
        rows: list[HookRow] = []
        for prio, _, b in self.pipeline.events(key, hook, fold_nat=False):
            if not isinstance(b, BaseChain):  # CONNTRACK: without fold_nat, the only pseudo-hook
                rows.append((None, "conntrack", f"{prio}", "pseudo"))
                continue
            t, c = b.table, b.chain
            ident = (t.family, t.name, c.name, hook)
            extra = []
            if t.family == "inet":
                extra.append("inet")
            extra.append(t.origin)
            if c.type != "filter":
                extra.append(c.type)
            if c.policy:
                extra.append(f"policy {c.policy}")
            docker = is_docker(t, c)
            rows.append((ident, f"{t.name} {c.name}", f"{prio}", ("docker " if docker else "")
                         + " · ".join(extra)))
        return rows

    def _lane(self, prefix: str, label: str, key, y0: float, mid, local) -> float:
        top_y = y0 + 22
        rows = {h: self._hook_rows(key, h, prefix) for h in HOOKS}
        hooks_top: tuple[str, ...]
        if prefix == "arp":
            hooks_top, hooks_bottom = (), ("input", "output")
        else:
            hooks_top, hooks_bottom = ("prerouting", "forward", "postrouting"), ("input", "output")
        main_h = max([HEAD_H + ROW_H * max(1, len(rows[h])) + 6 for h in hooks_top] + [70])
        side_h = max([HEAD_H + ROW_H * max(1, len(rows[h])) + 6 for h in hooks_bottom] + [70])
        # IP: the wire row on top, the local stack below. Bridge: the other way round, so the
        # bridge's input/output sit right under the IP stack they lead to.
        flip = prefix == "br"
        if flip:
            side_y, main_y = top_y, top_y + side_h + 44
        else:
            main_y, side_y = top_y, top_y + main_h + 44
        top_h, bot_h, bot_y = main_h, side_h, side_y
        top_y = main_y
        ends_h = 70
        for col in TOP:
            node = f"{prefix}:{col}"
            if col in ("in", "out"):
                lines = self.ends.get(node, [])
                h = max(ends_h, HEAD_H + 16 * len(lines) + 8)
                title = ("packet in" if col == "in" else "packet out") if prefix == "ip" else \
                    ("port in" if col == "in" else "port out")
                if prefix == "arp":
                    continue
                self._box(node, col, top_y + (top_h - h) / 2, END_W, h, title, "end", lines)
            elif col == "route":
                if mid is None:
                    continue
                self._box(node, col, top_y + top_h / 2 - 30, MID_W, 60, mid[0], "route",
                          [(mid[1], "muted")])
            elif col in hooks_top:
                self._box(node, col, top_y, HOOK_W, top_h, col.upper(), "hook", rows[col])
        for col in BOTTOM:
            node = f"{prefix}:{col}"
            if col == "local":
                lines = [(local[1], "muted")] if local[1] else []
                lines += self.ends.get(node, [])
                h = max(60, HEAD_H + 16 * len(lines) + 8)
                self._box(node, col, bot_y + bot_h / 2 - h / 2, 170, h, local[0], "end", lines)
            elif col in hooks_bottom:
                self._box(node, col, bot_y, HOOK_W, bot_h, col.upper(), "hook", rows[col])
        y1 = max(main_y + main_h, side_y + side_h) + 10
        self.lanes.append((prefix, label, y0, y1))
        return y1

    def _box(self, node, col, y, w, h, title, kind, rows):
        self.boxes[node] = Box(node, COL_X[col] - w / 2, y, w, h, title, kind, list(rows))

    # --- drawing ----------------------------------------------------------------------------
    def svg(self) -> str:
        paths = {d: path_of(self.steps, d, set(self.boxes)) for d in DIRECTIONS}
        visited = set(paths["original"]) | set(paths["reply"])
        out = [f'<svg id="hookgraph" xmlns="http://www.w3.org/2000/svg" role="img" '
               f'viewBox="0 0 {W} {self.height + self._decider_h():.0f}" '
               f'aria-label="netfilter hook graph with the flow path">',
               "<defs>" + "".join(
                   f'<marker id="arrow-{n}" viewBox="0 0 10 10" refX="9" refY="5" '
                   f'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
                   f'<path class="f-{n}" d="M0,0 L10,5 L0,10 z"/></marker>'
                   for n in ("orig", "reply", "grid")) + "</defs>"]
        for _prefix, label, y0, y1 in self.lanes:
            out.append(f'<rect class="lanebg" x="4" y="{y0 + 2:.0f}" width="{W - 8}" '
                       f'height="{y1 - y0 - 2:.0f}" rx="8"/>')
            out.append(f'<text class="lane" x="14" y="{y0 + 17:.0f}">{esc(label)}</text>')
        for prefix in {lane[0] for lane in self.lanes}:
            for a, b in SKELETON:
                na, nb = f"{prefix}:{a}", f"{prefix}:{b}"
                if na in self.boxes and nb in self.boxes:
                    out.append(self._edge(na, nb, 0, "skel", "grid"))
            if prefix == "arp" and "arp:input" in self.boxes:
                out.append(self._edge("arp:input", "arp:local", 0, "skel", "grid"))
                out.append(self._edge("arp:local", "arp:output", 0, "skel", "grid"))
        for box in self.boxes.values():
            out.append(self._draw_box(box, box.id in visited))
        mids: dict[tuple[str, str], tuple[float, float]] = {}
        for d, cls, off in (("original", "orig", -5), ("reply", "reply", 5)):
            seq = paths[d]
            for a, b in zip(seq, seq[1:]):
                out.append(self._edge(a, b, off, f"p-{cls}", cls, d, mids))
        out.append(self._nat_svg(paths, mids))
        out.append(self._decider_svg())
        out.append("</svg>")
        return "\n".join(out)

    def _anchor(self, a: Box, b: Box, off: float):
        """An orthogonal polyline from box a to box b, offset sideways by `off`."""
        if abs(a.cy - b.cy) < 1 or (a.y < b.cy < a.y + a.h and b.y < a.cy < b.y + b.h):
            y = (max(a.y, b.y) + min(a.y + a.h, b.y + b.h)) / 2 + off
            if b.cx > a.cx:
                return [(a.x + a.w, y), (b.x, y)]
            return [(a.x, y), (b.x + b.w, y)]
        if abs(a.cx - b.cx) < 1:
            x = a.cx + off
            if b.cy > a.cy:
                return [(x, a.y + a.h), (x, b.y)]
            return [(x, a.y), (x, b.y + b.h)]
        # two L shapes (vertical first, horizontal first): take the one crossing fewer boxes
        down = b.cy > a.cy
        right = b.cx > a.cx
        x, y = a.cx + off, b.cy + off
        vfirst = [(x, a.y + a.h if down else a.y), (x, y), (b.x if right else b.x + b.w, y)]
        x, y = b.cx + off, a.cy + off
        hfirst = [(a.x + a.w if right else a.x, y), (x, y), (x, b.y if down else b.y + b.h)]
        return min((vfirst, hfirst), key=lambda pts: self._crossings(pts, a, b))

    def _crossings(self, pts, a: Box, b: Box) -> int:
        n = 0
        for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
            lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
            for box in self.boxes.values():
                if box is a or box is b:
                    continue
                if lo_x < box.x + box.w and hi_x > box.x and lo_y < box.y + box.h and hi_y > box.y:
                    n += 1
        return n

    def _edge(self, a, b, off, cls, marker, direction=None, mids=None) -> str:
        pts = self._anchor(self.boxes[a], self.boxes[b], off)
        if mids is not None:
            (x1, y1), (x2, y2) = pts[0], pts[1]
            mids[(direction, a)] = ((x1 + x2) / 2, (y1 + y2) / 2)
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
        data = f' data-direction="{direction}" data-from="{a}" data-to="{b}"' if direction else ""
        return f'<path class="{cls}" d="{d}" marker-end="url(#arrow-{marker})"{data}/>'

    def _draw_box(self, box: Box, visited: bool) -> str:
        cls = {"hook": "box", "end": "box end", "route": "box route"}[box.kind]
        if visited:
            cls += " visited"
        out = [f'<g class="node" id="node-{esc(box.id.replace(":", "-"))}">',
               f'<rect class="{cls}" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" '
               f'height="{box.h:.1f}" rx="6"/>',
               f'<text class="title" x="{box.cx:.1f}" y="{box.y + 17:.1f}" '
               f'text-anchor="middle">{esc(box.title)}</text>']
        if box.kind != "hook":
            for i, (text, tcls) in enumerate(box.rows):
                y = box.y + HEAD_H + 14 + 16 * i
                out.append(f'<text class="{tcls}" x="{box.cx:.1f}" y="{y:.1f}" '
                           f'text-anchor="middle">{esc(clip(text, 19))}'
                           f'<title>{esc(text)}</title></text>')
            out.append("</g>")
            return "\n".join(out)
        if not box.rows:
            out.append(f'<text class="muted" x="{box.cx:.1f}" y="{box.y + HEAD_H + 16:.1f}" '
                       f'text-anchor="middle">no base chain</text>')
        for i, (ident, line1, prio, line2) in enumerate(box.rows):
            ry = box.y + HEAD_H + ROW_H * i
            tcls = ""
            if ident is not None and self.decider is not None and ident[:3] == self.decider:
                out.append(f'<rect id="decider-row" class="row-decider" x="{box.x + 3:.1f}" '
                           f'y="{ry:.1f}" width="{box.w - 6:.1f}" height="{ROW_H - 2}" rx="3"/>')
                tcls = "decider"
                self.decider_row = (box.id, i)
            if ident is not None:
                for j, (d, fcls) in enumerate((("original", "f-orig"), ("reply", "f-reply"))):
                    if ident in self.entered[d]:
                        out.append(f'<circle class="{fcls}" cx="{box.x + 9 + 8 * j:.1f}" '
                                   f'cy="{ry + 9:.1f}" r="3.5"><title>entered by the '
                                   f'{d} direction</title></circle>')
            name_cls = "pseudo" if line2 == "pseudo" else tcls
            out.append(f'<text class="{name_cls}" x="{box.x + 26:.1f}" y="{ry + 12:.1f}">'
                       f'{esc(clip(line1, 24))}<title>{esc(line1)}</title></text>')
            out.append(f'<text class="{name_cls or "muted"}" x="{box.x + box.w - 8:.1f}" '
                       f'y="{ry + 12:.1f}" text-anchor="end">{esc(prio)}</text>')
            if line2 != "pseudo":
                docker = line2.startswith("docker ")
                rest = line2[len("docker "):] if docker else line2
                x = box.x + 26
                if docker:
                    out.append(f'<text class="docker" x="{x:.1f}" y="{ry + 24:.1f}" '
                               f'font-size="9.5">DOCKER</text>')
                    x += 50
                out.append(f'<text class="muted" x="{x:.1f}" y="{ry + 24:.1f}" font-size="9.5">'
                           f'{esc(clip(rest, 30 if not docker else 22))}</text>')
        out.append("</g>")
        return "\n".join(out)

    def _nat_svg(self, paths, mids) -> str:
        out = []
        for i, (d, node, label) in enumerate(self.nat_band):
            seq = paths[d]
            key = None
            if node in seq:
                k = seq.index(node)
                key = (d, node) if k + 1 < len(seq) else ((d, seq[k - 1]) if k else None)
            if key is None or key not in mids:
                continue
            mx, my = mids[key]
            ly = 18 + 22 * i
            wlabel = 7 * len(label) + 16
            lx = min(max(mx - wlabel / 2, 6), W - wlabel - 6)
            cls = "orig" if d == "original" else "reply"
            out.append(f'<g class="nat" data-direction="{d}">'
                       f'<line class="p-{cls}" stroke-width="1" stroke-dasharray="3 3" '
                       f'x1="{mx:.1f}" y1="{ly + 8:.1f}" x2="{mx:.1f}" y2="{my:.1f}"/>'
                       f'<circle class="f-{cls}" cx="{mx:.1f}" cy="{my:.1f}" r="4"/>'
                       f'<rect class="natlabel" x="{lx:.1f}" y="{ly - 8:.1f}" width="{wlabel:.1f}" '
                       f'height="18" rx="9"/>'
                       f'<text class="nat" x="{lx + wlabel / 2:.1f}" y="{ly + 5:.1f}" '
                       f'text-anchor="middle">{esc(label)}</text></g>')
        return "\n".join(out)

    def _decider_h(self) -> float:
        return 62 if self.result is not None and (self.result.stopped_at is not None or
                                                  self.result.stopped_policy is not None) else 0

    def _decider_svg(self) -> str:
        if not self._decider_h():
            return ""
        r = self.result
        if r.stopped_at is not None:
            src = r.stopped_at.rule.source
            where = f"{src.file}:{src.line}" if src else f"#{r.stopped_at.index}"
            head = f"decided by {r.stopped_at.family} {r.stopped_at.table} {r.stopped_at.chain} " \
                   f"rule {r.stopped_at.index} ({where})"
            text = r.stopped_at.rule.text
        else:
            fam, table, chain, policy = r.stopped_policy
            head = f"decided by the policy of {fam} {table} {chain}"
            text = f"policy {policy}"
        y = self.height + 4
        out = [f'<g id="decider-callout"><rect class="row-decider" x="6" y="{y:.1f}" '
               f'width="{W - 12}" height="50" rx="6"/>',
               f'<text class="decider" x="18" y="{y + 20:.1f}">✖ {esc(head)}</text>',
               f'<text class="decider" x="18" y="{y + 38:.1f}">{esc(clip(text, 180))}</text>']
        if self.decider_row is not None:
            box = self.boxes[self.decider_row[0]]
            ry = box.y + HEAD_H + ROW_H * self.decider_row[1] + ROW_H / 2
            out.append(f'<line class="row-decider" stroke-dasharray="4 3" x1="{box.x + 4:.1f}" '
                       f'y1="{ry:.1f}" x2="{box.x - 10:.1f}" y2="{ry:.1f}"/>'
                       f'<path class="row-decider" fill="none" d="M{box.x - 10:.1f},{ry:.1f} '
                       f'L{box.x - 10:.1f},{y:.1f}"/>')
        out.append("</g>")
        return "\n".join(out)


def render_hookgraph(ruleset: Ruleset, steps: list[Step], result=None) -> str:
    """The SVG (a string) of the host's hook graph with the flow's path drawn."""
    return Graph(ruleset, steps, result).svg()

