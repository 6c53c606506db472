"""`nflens fleet audit --html`: one self-contained page for a fleet: ports and who exposes them
(to the internet in red), findings per kind, hosts that differ from their group, changes since
the earlier run, and each host's own exposure table and findings (collapsed)."""

from __future__ import annotations

from typing import Any

from nflens.report.html.audit_html import exposure_html, finding_html
from nflens.report.html.page import document, esc


def _hosts(names: list[str]) -> str:
    return ", ".join(f"<a href=\"#host-{esc(n)}\">{esc(n)}</a>" for n in names) or \
        "<span class=\"muted\">none</span>"


def _ports(summary: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>{esc(p['port'])}</code></td><td>{len(p['hosts'])}</td>"
                   f"<td class=\"{'sev-high' if p['internet'] else ''}\">"
                   f"{_hosts(p['internet'])}</td><td>{_hosts(p['hosts'])}</td></tr>"
                   for p in summary["ports"])
    return ("<table><thead><tr><th>port</th><th>hosts</th><th>reachable from the internet on"
            "</th><th>reachable at all on</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>") if rows else "<p class=\"muted\">No port.</p>"


def _findings(summary: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td class=\"sev-{esc(f['severity'])}\">{esc(f['severity'])}</td>"
                   f"<td><code>{esc(f['id'])}</code></td>"
                   f"<td>{f.get('host_count', len(f['hosts']))}</td><td>{f['count']}</td>"
                   f"<td>{_hosts(f['hosts'])}</td></tr>" for f in summary["findings"])
    return ("<table><thead><tr><th>severity</th><th>finding</th><th>hosts</th><th>findings</th>"
            "<th>on</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>") if rows else \
        "<p class=\"muted\">No finding.</p>"


def _drift(summary: dict[str, Any]) -> str:
    items = []
    for g in summary["groups"]:
        for v in g.get("variants", []):
            items.append(f"<li>group <code>{esc(g['group'])}</code> has no majority: "
                         f"{_hosts(v['hosts'])}: "
                         f"{esc('; '.join(v['exposure']) or 'nothing reachable')}</li>")
        for d in g["differ"]:
            what = "; ".join([f"+ {x}" for x in d["extra"]] + [f"− {x}" for x in d["missing"]])
            items.append(f"<li><a href=\"#host-{esc(d['host'])}\">{esc(d['host'])}</a> "
                         f"(group <code>{esc(g['group'])}</code>): {esc(what)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else \
        "<p class=\"muted\">Every host matches the others of its group.</p>"


def _changes(summary: dict[str, Any]) -> str:
    ch = summary.get("changes")
    if not ch:
        return "<p class=\"muted\">No earlier run to compare with.</p>"
    items = [f"<li>new hosts: {_hosts(ch['new_hosts'])}</li>",
             f"<li>gone hosts: {esc(', '.join(ch['gone_hosts']) or 'none')}</li>"]
    for h in ch["hosts"]:
        parts = [f"{k.replace('_', ' ')}: " + "; ".join(
            f"{x['id']} ({x['subject']})" if isinstance(x, dict) else str(x) for x in h[k])
            for k in ("new_findings", "resolved_findings", "exposure_added", "exposure_removed")
            if h.get(k)]
        if "error" in h:
            parts.append(f"error before: {h['error']['before']}; now: {h['error']['now']}")
        items.append(f"<li><a href=\"#host-{esc(h['host'])}\">{esc(h['host'])}</a>: "
                     f"{esc(' | '.join(parts))}</li>")
    return f"<p>Compared with <code>{esc(ch['against'])}</code></p><ul>{''.join(items)}</ul>"


def _host(rec: dict[str, Any]) -> str:
    head = f"<summary id=\"host-{esc(rec['host'])}\"><strong>{esc(rec['host'])}</strong>"
    if "error" in rec:
        return f"<details>{head} <span class=\"v-deny\">error</span></summary>" \
               f"<pre>{esc(rec['error'])}</pre></details>"
    findings = rec.get("findings", [])
    body = [exposure_html(rec.get("exposure", []))]
    body += [finding_html(n, f) for n, f in enumerate(findings, 1)]
    return (f"<details>{head} <span class=\"muted\">group {esc(rec.get('group'))}, "
            f"{len(findings)} finding(s)</span></summary>{''.join(body)}</details>")


def _unread(records: list[dict[str, Any]]) -> str:
    """The hosts that could not be read, at the top: they are what needs a look first."""
    items = [f"<li><a href=\"#host-{esc(r['host'])}\">{esc(r['host'])}</a>: "
             f"<code>{esc(r['error'])}</code></li>" for r in records if "error" in r]
    return (f"<h2 class=\"sev-high\">Could not be read</h2><ul>{''.join(items)}</ul>"
            if items else "")


def render_fleet_html(records: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    errors = summary["errors"]
    body = ["<h1>nflens fleet audit</h1>",
            f"<div class=\"summary\"><p>{summary['hosts']} host(s): {summary['audited']} audited, "
            f"{len(errors)} could not be read; {summary['reused']} unchanged since the last run"
            "</p></div>", _unread(records),
            "<h2>Ports</h2>", _ports(summary), "<h2>Findings</h2>", _findings(summary),
            "<h2>Hosts that differ from their group</h2>", _drift(summary),
            "<h2>Changes</h2>", _changes(summary), "<h2>Hosts</h2>"]
    body += [_host(r) for r in sorted(records, key=lambda r: "error" not in r)]
    return document("nflens fleet audit", "\n".join(body))
