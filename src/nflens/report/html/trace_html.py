"""`nflens trace --html`: the verdict, the hook graph with the flow drawn, then the text trace
with one collapsible <details> per phase, the deciding rule highlighted."""

from __future__ import annotations

from nflens.kernel.trace import (
    ArpStep,
    BridgeStep,
    ConntrackStep,
    EndpointStep,
    HookStep,
    NatStep,
    PacketStep,
    PolicyStep,
    RouteStep,
    RuleStep,
    Step,
    VerdictStep,
)
from nflens.report.html.hookgraph import decider_step_index, render_hookgraph
from nflens.report.html.page import document, esc

DIRECTION_TITLE = {"original": "Original direction", "reply": "Reply direction"}


def _step_html(step: Step) -> tuple[str, str]:
    """(css classes, inner HTML) of one step line."""
    if isinstance(step, PacketStep):
        return "st-packet", f"packet <code>{esc(step.packet)}</code> <span class=\"where\">at " \
                            f"{esc(step.where)}</span>"
    if isinstance(step, HookStep):
        return "st-hook", (f"{esc(step.family)} {esc(step.hook)}: table {esc(step.table)} chain "
                           f"{esc(step.chain)} <span class=\"where\">(prio {esc(step.priority)}, "
                           f"{esc(step.origin)})</span> → {esc(step.verdict)}")
    if isinstance(step, RuleStep):
        mark = {True: "✔", False: "·", "unknown": "?"}.get(step.matched, "?")
        where = f"{step.file}:{step.line}" if step.file else f"#{step.index}"
        m = {True: "true", False: "false"}.get(step.matched, "unknown")
        html = (f"{mark} {esc(step.chain)}#{esc(step.index)} <span class=\"where\">{esc(where)}"
                f"</span> <code>{esc(step.rule)}</code>")
        if step.action and step.matched is True:
            html += f" ⇒ <strong>{esc(step.action)}</strong>"
        if step.note:
            html += f" <em>({esc(step.note)})</em>"
        if step.skipped:
            html += f" <span class=\"muted\">(index skipped {esc(step.skipped)} rules)</span>"
        return f"st-rule m-{m}", html
    if isinstance(step, PolicyStep):
        return "st-policy", f"policy <strong>{esc(step.policy)}</strong> of {esc(step.table)} " \
                            f"{esc(step.chain)}"
    if isinstance(step, ConntrackStep):
        return "st-ct", f"conntrack: <strong>{esc(step.state)}</strong> {esc(step.ct_direction)} " \
                        f"{esc(step.note)} <code>{esc(step.entry)}</code>"
    if isinstance(step, NatStep):
        return "st-nat", f"{esc(step.nat)} ({esc(step.by)}): <code>{esc(step.before)}</code> → " \
                         f"<code>{esc(step.after)}</code>"
    if isinstance(step, RouteStep):
        return "st-route", f"route {esc(step.dst)}: <strong>{esc(step.decision)}</strong> via " \
                           f"{esc(step.route)}"
    if isinstance(step, BridgeStep):
        return "st-bridge", f"bridge {esc(step.bridge)}: {esc(step.in_port or 'host')} → " \
                            f"{esc(step.out_port or 'host')} {esc(step.note)}"
    if isinstance(step, ArpStep):
        ok = "ok" if step.ok else "FAILED"
        return "st-arp", f"ARP {esc(step.sender)} asks who-has {esc(step.target)}: " \
                         f"<strong>{ok}</strong> {esc(step.note)}"
    if isinstance(step, EndpointStep):
        note = f" ({esc(step.note)})" if step.note else ""
        return "st-endpoint", f"endpoint <strong>{esc(step.endpoint)}</strong>: " \
                              f"{esc(step.answers)}{note}"
    return "st", esc(step)


def _phases(steps: list[Step]) -> list[tuple[str, str, list[tuple[int, Step]]]]:
    """Consecutive steps grouped by (direction, phase)."""
    groups: list[tuple[str, str, list[tuple[int, Step]]]] = []
    for i, s in enumerate(steps):
        if isinstance(s, VerdictStep):
            continue
        if groups and groups[-1][0] == s.direction and groups[-1][1] == s.phase:
            groups[-1][2].append((i, s))
        else:
            groups.append((s.direction, s.phase, [(i, s)]))
    return groups


def trace_sections(result) -> str:
    decider = decider_step_index(result.steps, result)
    out = []
    direction = None
    for n, (d, phase, items) in enumerate(_phases(result.steps), 1):
        if d != direction:
            direction = d
            out.append(f"<h3 class=\"dir-title\">{esc(DIRECTION_TITLE.get(d, d))}</h3>")
        hooks = [s for _, s in items if isinstance(s, HookStep)]
        summary = ", ".join(f"{h.table} {h.chain} → {h.verdict}" for h in hooks)
        has_decider = decider is not None and any(i == decider for i, _ in items)
        lis = []
        for i, s in items:
            cls, html = _step_html(s)
            attrs = ""
            if i == decider:
                cls += " decider"
                attrs = " id=\"decider\""
                html = "✖ DECIDED HERE — " + html
            lis.append(f"<li class=\"{cls}\"{attrs}>{html}</li>")
        flag = " <strong class=\"v-deny\">✖ decided here</strong>" if has_decider else ""
        out.append(f"<details open class=\"phase dir-{esc(d)}\"><summary>{n}. "
                   f"<strong>{esc(phase)}</strong> <span class=\"muted\">{esc(summary)}</span>"
                   f"{flag}</summary><ul class=\"steps\">{''.join(lis)}</ul></details>")
    return "\n".join(out)


def verdict_summary(result, change=None) -> str:
    v = result.verdict
    out = [f"<div class=\"summary\"><p><strong>Verdict:</strong> <span class=\"badge v-{esc(v)}\" "
           f"id=\"verdict\">{esc(v.upper())}</span> — {esc(result.reason)}</p>"]
    if result.expect:
        holds = "holds" if result.holds else "does NOT hold"
        out.append(f"<p>Expected: {esc(result.expect)} ({holds})</p>")
    if result.stopped_at is not None:
        ref = result.stopped_at
        src = ref.rule.source
        where = f"{src.file}:{src.line}" if src else f"#{ref.index}"
        out.append(f"<div class=\"decider-box\" id=\"decider-summary\"><strong>Decided by</strong> "
                   f"{esc(ref.family)} {esc(ref.table)} {esc(ref.chain)} rule {esc(ref.index)} "
                   f"(<span class=\"mono\">{esc(where)}</span>):<br>"
                   f"<code>{esc(ref.rule.text)}</code></div>")
    elif result.stopped_policy is not None:
        fam, table, chain, policy = result.stopped_policy
        out.append(f"<div class=\"decider-box\" id=\"decider-summary\"><strong>Decided by</strong> "
                   f"the policy <code>{esc(policy.upper())}</code> of {esc(fam)} {esc(table)} "
                   f"{esc(chain)}</div>")
    for why in result.uncertain_because:
        out.append(f"<p class=\"v-uncertain\">hinges on: {esc(why)}</p>")
    if change is not None:
        desc, after = change
        out.append(f"<p><strong>What would change it:</strong> {esc(desc)}: "
                   f"<span class=\"v-{esc(after.verdict)}\">{esc(after.verdict.upper())}</span> — "
                   f"{esc(after.reason)}</p>")
    if result.assumptions:
        items = "".join(f"<li>{esc(a)}</li>" for a in result.assumptions)
        out.append(f"<details><summary>Assumptions ({len(result.assumptions)})</summary>"
                   f"<ul>{items}</ul></details>")
    out.append("</div>")
    return "\n".join(out)


LEGEND = ("<p class=\"legend\"><span><i class=\"sw sw-orig\"></i>original direction</span>"
          "<span><i class=\"sw sw-reply\"></i>reply direction</span>"
          "<span><i class=\"sw sw-nat\"></i>NAT rewrite (before → after)</span>"
          "<span><i class=\"sw sw-deny\"></i>chain holding the deciding rule</span>"
          "<span>dots in a box: chain entered (blue original, orange reply)</span>"
          "<span>DOCKER: Docker's chains</span></p>")


def chains_table(ruleset) -> str:
    """Every base chain of every family, per hook, in priority order."""
    from nflens.kernel.pipeline import Pipeline
    from nflens.report.html.hookgraph import is_docker

    pipe = Pipeline(ruleset)
    rows = []
    for family in sorted({t.family for t in ruleset.tables}):
        for table in ruleset.tables:
            if table.family != family:
                continue
            for c in table.chains:
                if c.is_base:
                    rows.append((family, c.hook or "", c.priority or 0, table, c))
    del pipe
    order = {h: i for i, h in enumerate(("ingress", "prerouting", "input", "forward", "output",
                                         "postrouting", "egress"))}
    rows.sort(key=lambda r: (r[0], order.get(r[1], 9), r[2]))
    body = "".join(
        f"<tr><td>{esc(f)}</td><td>{esc(h)}</td><td>{esc(p)}</td><td>{esc(t.name)}</td>"
        f"<td>{esc(c.name)}</td><td>{esc(t.origin)}</td><td>{esc(c.policy or '')}</td>"
        f"<td>{len(c.rules)}</td><td>{'DOCKER' if is_docker(t, c) else ''}</td></tr>"
        for f, h, p, t, c in rows)
    return ("<details><summary>All base chains of this host, by family and hook "
            f"({len(rows)})</summary><table><thead><tr><th>family</th><th>hook</th><th>priority"
            "</th><th>table</th><th>chain</th><th>origin</th><th>policy</th><th>rules</th>"
            f"<th>Docker</th></tr></thead><tbody>{body}</tbody></table></details>")


def render_trace_html(result, host=None, change=None) -> str:
    from nflens.ir.rules import Ruleset

    ruleset = host.ruleset if host is not None else Ruleset()
    title = f"nflens trace — {result.name}"
    body = [f"<h1>{esc(title)}</h1>",
            f"<p class=\"muted\">host {esc(getattr(host, 'name', '?'))}</p>" if host else "",
            verdict_summary(result, change),
            "<h2>Packet path through the netfilter hooks</h2>", LEGEND,
            f"<div class=\"graph\">{render_hookgraph(ruleset, result.steps, result)}</div>",
            chains_table(ruleset),
            "<h2>Trace, phase by phase</h2>", trace_sections(result)]
    return document(title, "\n".join(body))
