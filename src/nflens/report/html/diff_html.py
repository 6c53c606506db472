"""`nflens diff --html`: the diff of two audits (analysis/diff.py) as one self-contained page:
exposure gained and lost, egress gained and lost, findings added (in full, with their fix) and
resolved."""

from __future__ import annotations

from typing import Any

from nflens.report.diff import port_label, status_note
from nflens.report.html.audit_html import egress_html, finding_html, sources_html
from nflens.report.html.page import document, esc


def _exposure_table(rows: list[dict], empty: str) -> str:
    if not rows:
        return f"<p class=\"muted\">{esc(empty)}</p>"
    out = []
    for e in rows:
        span = len(e["from"])
        for i, r in enumerate(e["from"]):
            head = (f"<td rowspan=\"{span}\"><code>{esc(port_label(e))}</code>"
                    f"<span class=\"muted\">{esc(status_note(e))}</span></td>" if i == 0 else "")
            unsure = (f"<br><span class=\"v-uncertain\">uncertain: "
                      f"{sources_html(r['uncertain'], 3)}</span>" if r.get("uncertain") else "")
            out.append(f"<tr>{head}<td>{esc(r['iface'])}</td>"
                       f"<td>{sources_html(r['readable'] or r['sources'])}{unsure}</td></tr>")
    return ("<table class=\"exposure\"><thead><tr><th>port / target</th><th>ingress interface"
            "</th><th>sources</th></tr></thead><tbody>" + "".join(out) + "</tbody></table>")


def _egress_table(rows: list[dict], empty: str) -> str:
    return egress_html(rows) if rows else f"<p class=\"muted\">{esc(empty)}</p>"


def render_diff_html(diff: dict[str, Any], before: str, after: str) -> str:
    exp, egr, fnd = diff["exposure"], diff["egress"], diff["findings"]
    title = f"nflens diff — {before} → {after}"
    body = [f"<h1>{esc(title)}</h1>",
            f"<div class=\"summary\"><p>exposure: {len(exp['gained'])} port(s) gained sources, "
            f"{len(exp['lost'])} lost; findings: {len(fnd['added'])} added, "
            f"{len(fnd['resolved'])} resolved</p></div>",
            "<h2 id=\"exposure-gained\">Exposure gained</h2>",
            _exposure_table(exp["gained"], "No source can connect now that could not before."),
            "<h2 id=\"exposure-lost\">Exposure lost</h2>",
            _exposure_table(exp["lost"], "No source lost its access."),
            "<h2 id=\"egress\">Egress gained and lost</h2>",
            _egress_table(egr["gained"], "No destination gained."),
            _egress_table(egr["lost"], "No destination lost."),
            f"<h2 id=\"findings-added\">Findings added ({len(fnd['added'])})</h2>"]
    body += [finding_html(n, f) for n, f in enumerate(fnd["added"], 1)] or \
        ["<p class=\"muted\">No new finding.</p>"]
    body.append(f"<h2 id=\"findings-resolved\">Findings resolved ({len(fnd['resolved'])})</h2>")
    body += [finding_html(n, f) for n, f in enumerate(fnd["resolved"], len(fnd["added"]) + 1)] \
        or ["<p class=\"muted\">No finding resolved.</p>"]
    return document(title, "\n".join(body))
