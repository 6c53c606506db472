"""`nflens audit --html`: the exposure table per published port, every finding (severity,
explanation, rules, fix, whether the fix was verified) and a host diagram."""

from __future__ import annotations

from typing import Any

from nflens.ir.host import Host
from nflens.report.html.finding_groups import findings_html
from nflens.report.html.hostgraph import GROUP_ABOVE, render_hostgraph
from nflens.report.html.page import document, esc

SEVERITIES = ("high", "medium", "low", "info")


def _target(t: dict) -> str:
    if "dnat" in t:  # a native nft port forward to a guest (analysis/forwards.py)
        return f"DNAT to {t['dnat']}:{t.get('port', '?')}"
    if "container" in t:
        addr = f"{t['addr']}:" if t.get("addr") else "port "
        return f"container {t['container']} ({addr}{t.get('port', '?')})"
    return f"process {t.get('process', '?')}"


def sources_html(srcs: list[str], limit: int = 6) -> str:
    if not srcs:
        return "<span class=\"muted\">none</span>"
    shown = ", ".join(f"<code>{esc(s)}</code>" for s in srcs[:limit])
    if len(srcs) > limit:
        rest = ", ".join(esc(s) for s in srcs[limit:])
        shown += f" <details><summary>+{len(srcs) - limit} more</summary>{rest}</details>"
    return shown


def _down() -> str:
    return "<span class=\"muted\">down: not reachable while down</span>"


def exposure_html(exposure: list[dict]) -> str:
    if not exposure:
        return "<p class=\"muted\">No published port and no host socket.</p>"
    rows = []
    for e in exposure:
        reach = e.get("reachable_from", [])
        span = max(1, len(reach))
        head = (f"<td rowspan=\"{span}\"><code>{esc(e.get('proto'))}/{esc(e.get('host_addr'))}:"
                f"{esc(e.get('host_port'))}</code></td><td rowspan=\"{span}\">"
                f"{esc(_target(e.get('target', {})))}</td>")
        if not reach:
            rows.append(f"<tr>{head}<td colspan=\"3\" class=\"muted\">no interface</td></tr>")
            continue
        for i, r in enumerate(reach):
            admitted = "<br>".join(f"<code>{esc(a.get('rule'))}</code>"
                                   for a in r.get("admitted_by", []))
            unc = r.get("uncertain")
            extra = (f"<br><span class=\"v-uncertain\">uncertain: "
                     f"{sources_html(unc.get('sources', []), 3)}</span>" if unc else "")
            srcs = _down() if r.get("down") else \
                sources_html(r.get("readable", r.get("sources", [])))
            rows.append(f"<tr>{head if i == 0 else ''}<td>{esc(r.get('iface'))}</td>"
                        f"<td>{srcs}{extra}</td>"
                        f"<td>{admitted}</td></tr>")
    return ("<table class=\"exposure\"><thead><tr><th>published / listening</th><th>target</th>"
            "<th>ingress interface</th><th>sources that can connect</th><th>admitted by</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def egress_html(egress: list[dict]) -> str:
    """The text report's egress table: where each Docker network's containers can open
    connections, per service asked (analysis/egress_report.py)."""
    if not egress:
        return "<p class=\"muted\">No Docker network to ask about.</p>"
    body = "".join(f"<tr><td>{esc(e.get('network'))}</td><td>{esc(e.get('container'))}</td>"
                   f"<td><code>{esc(e.get('proto'))}/{esc(e.get('port'))}</code></td>"
                   f"<td>{sources_html(e.get('readable', e.get('destinations', [])))}</td></tr>"
                   for e in egress)
    return ("<table class=\"egress\"><thead><tr><th>network</th><th>container</th>"
            "<th>service</th><th>destinations</th></tr></thead><tbody>" + body +
            "</tbody></table>")


def finding_html(n: int, f: dict) -> str:
    sev = f.get("severity", "info")
    sev_cls = sev if sev in SEVERITIES else "info"
    rules = "".join(f"<li><span class=\"mono where\">{esc(r.get('file'))}:{esc(r.get('line'))}"
                    f"</span> <code>{esc(r.get('text'))}</code></li>" for r in f.get("rules", []))
    out = [f"<section class=\"finding sev-{sev_cls}\" id=\"finding-{n}\">",
           f"<h3><span class=\"badge sev-{sev_cls}\">{esc(sev.upper())}</span>{esc(f.get('title'))}"
           f" <span class=\"muted\">({esc(f.get('id'))})</span></h3>"]
    if f.get("subject"):
        out.append(f"<p class=\"muted\">subject: {esc(f['subject'])}</p>")
    out.append(f"<p>{esc(f.get('explanation'))}</p>")
    if rules:
        out.append(f"<p><strong>Rules involved</strong></p><ul>{rules}</ul>")
    if f.get("fix"):
        out.append(f"<p><strong>Fix</strong></p><pre>{esc(f['fix'])}</pre>")
    verified = f.get("fix_verified")
    if verified is not None or f.get("verification"):
        mark = ("<span class=\"v-allow\">✔ verified</span>" if verified is True
                else "<span class=\"v-deny\">✘ NOT verified</span>" if verified is False
                else "")
        out.append(f"<p>{mark} <span class=\"muted\">{esc(f.get('verification'))}</span></p>")
    out.append("</section>")
    return "\n".join(out)


def reachable_containers(exposure: list[dict]) -> dict[str, list[str]]:
    """Container -> the ingress interfaces from which some source can connect to one of its
    published ports (the exposure's answer, read, for the host diagram's red bar)."""
    out: dict[str, list[str]] = {}
    for e in exposure:
        name = (e.get("target") or {}).get("container")
        for r in e.get("reachable_from", []):
            if name and r.get("sources") and r.get("iface") not in out.get(name, []):
                out.setdefault(name, []).append(r["iface"])
    return out


def render_audit_html(host: Host, result: dict[str, Any]) -> str:
    findings = result.get("findings", [])
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITIES}
    title = f"nflens audit — {host.name}"
    summary = " ".join(f"<span class=\"badge sev-{s}\">{counts[s]} {s}</span>"
                       for s in SEVERITIES if counts[s])
    body = [f"<h1>{esc(title)}</h1>",
            f"<div class=\"summary\"><p>{len(result.get('exposure', []))} published port(s) / "
            f"socket(s), {len(findings)} finding(s) {summary}</p></div>",
            "<h2>Host</h2>",
            "<p class=\"muted\">Interfaces (left), the host and its sockets, bridges and the "
            "containers on them; published ports in red, and a red bar beside a container one "
            "of whose published ports some source can reach (the exposure table says from "
            f"where). Past {GROUP_ABOVE} containers, each network shows a few and counts the "
            "rest.</p>",
            f"<div class=\"graph\">"
            f"{render_hostgraph(host, reachable_containers(result.get('exposure', [])))}</div>",
            "<h2>Exposure: who can open a connection</h2>",
            exposure_html(result.get("exposure", [])),
            "<h2 id=\"egress\">Egress: where each Docker network can open connections</h2>",
            egress_html(result.get("egress", [])),
            f"<h2>Findings ({len(findings)})</h2>"]
    body += findings_html(findings, finding_html) or ["<p class=\"muted\">No finding.</p>"]
    assumptions = result.get("assumptions") or []
    if assumptions:
        items = "".join(f"<li>{esc(a)}</li>" for a in assumptions)
        body.append(f"<details><summary>Assumptions ({len(assumptions)})</summary><ul>{items}</ul>"
                    "</details>")
    return document(title, "\n".join(body))
