"""The text view of `nflens diff` (analysis/diff.py): plain lines, one change each, so that a
pipe or grep gets whole lines; every name and rule printed literally."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from nflens.report.console import join, literal

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
SIGN = {"gained": ("+", "red"), "lost": ("-", "green"), "added": ("+", "red"),
        "resolved": ("-", "green")}


def port_label(e: dict[str, Any]) -> str:
    """`tcp/0.0.0.0:8080 -> web:80` (container) or `tcp/:::22 -> sshd` (process)."""
    t = e.get("target") or {}
    what = (f"DNAT {t.get('dnat')}:{t.get('port')}" if "dnat" in t
            else f"{t.get('container')}:{t.get('port')}" if "container" in t
            else t.get("process") or "?")
    return f"{e.get('proto')}/{e.get('host_addr')}:{e.get('host_port')} -> {what}"


def status_note(e: dict[str, Any]) -> str:
    return {"new": " (new port)", "removed": " (port gone)"}.get(e.get("status", ""), "")


def render_diff(diff: dict[str, Any], out: Console, before: str, after: str) -> None:
    out.print(join("diff ", literal(before, "bold"), " -> ", literal(after, "bold")))
    _exposure(diff["exposure"], out)
    _egress(diff["egress"], out)
    _findings(diff["findings"], out)
    if not any(v for part in diff.values() for v in part.values()):
        out.print()
        out.print("no change: the same exposure, egress and findings")


def _head(out: Console, title: str, n: int) -> None:
    out.print()
    out.print(literal(f"{title} ({n})", "bold"))


def _exposure(part: dict[str, list], out: Console) -> None:
    for side, title in (("gained", "Exposure gained"), ("lost", "Exposure lost")):
        sign, style = SIGN[side]
        _head(out, title, len(part[side]))
        for e in part[side]:
            out.print(join(literal(f"  {sign} ", style), literal(port_label(e)),
                           literal(status_note(e), "dim")))
            for r in e["from"]:
                shown = ", ".join(r["readable"] or r["sources"]) or "-"
                line = literal(f"      {r['iface']}: {shown}")
                if r.get("uncertain"):
                    line.append_text(literal(f"  uncertain: {', '.join(r['uncertain'])}",
                                             "yellow"))
                out.print(line)


def _egress(part: dict[str, list], out: Console) -> None:
    if not part["gained"] and not part["lost"]:
        return
    for side, title in (("gained", "Egress gained"), ("lost", "Egress lost")):
        sign, style = SIGN[side]
        _head(out, title, len(part[side]))
        for e in part[side]:
            dests = ", ".join(e["readable"] or e["destinations"])
            out.print(join(literal(f"  {sign} ", style),
                           literal(f"{e['network']} ({e['container']}) -> {e['proto']}/"
                                   f"{e['port']}: {dests}")))


def _findings(part: dict[str, list], out: Console) -> None:
    for side, title in (("added", "Findings added"), ("resolved", "Findings resolved")):
        sign, style = SIGN[side]
        _head(out, title, len(part[side]))
        for f in part[side]:
            out.print(join(literal(f"  {sign} ", style),
                           literal(f["severity"].upper(), SEVERITY_STYLE.get(f["severity"], "")),
                           literal(f" {f['title']} "),
                           literal(f"({f['id']}: {f['subject']})", "dim")))
            for r in f.get("rules", []):
                out.print(literal(f"      rule {r.get('file')}:{r.get('line')}  {r.get('text')}",
                                  "dim"))
