"""The document shell of every HTML report: one self-contained file (inline CSS, inline SVG,
no script, no external resource), light and dark colour schemes, printable.

`esc` is the only way user strings (rule text, names, addresses) enter the markup."""

from __future__ import annotations

import html

CSS = """
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1d232b; --muted: #5d6773; --panel: #f4f6f8; --border: #c9d0d8;
  --orig: #1f6fd1; --reply: #c55d00; --deny: #c81e1e; --deny-bg: #fde8e8; --allow: #17803d;
  --warn: #9a6700; --nat: #6b3fb8; --docker: #0b7a9c; --code-bg: #eef1f4; --grid: #98a2ad;
  --hook: #ffffff; --hit: #e7f0fc; --hit-r: #fdf0e3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15191e; --fg: #e3e7ec; --muted: #9aa5b1; --panel: #1e242b; --border: #3a444f;
    --orig: #5ea8ff; --reply: #ff9d4a; --deny: #ff6b6b; --deny-bg: #3d1c1f; --allow: #4cc37a;
    --warn: #e3b341; --nat: #b79cff; --docker: #4cc4e6; --code-bg: #242b33; --grid: #66717d;
    --hook: #1b2026; --hit: #1c2c40; --hit-r: #3a2a1a;
  }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem 2rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 1.45rem; margin: 0 0 .4rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; border-bottom: 1px solid var(--border);
  padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 12.5px; }
code { background: var(--code-bg); padding: 0 .25em; border-radius: 3px; }
pre { background: var(--code-bg); padding: .5rem .7rem; border-radius: 4px; overflow-x: auto;
  white-space: pre-wrap; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-weight: 600;
  font-size: .85em; border: 1px solid currentColor; }
.v-allow { color: var(--allow); } .v-deny { color: var(--deny); }
.v-uncertain { color: var(--warn); }
.sev-high { color: var(--deny); } .sev-medium { color: var(--warn); }
.sev-low { color: var(--orig); } .sev-info { color: var(--muted); }
.summary { background: var(--panel); border: 1px solid var(--border); border-radius: 6px;
  padding: .8rem 1rem; }
.decider-box { border: 2px solid var(--deny); background: var(--deny-bg); border-radius: 6px;
  padding: .6rem .9rem; margin: .6rem 0; }
.legend span { margin-right: 1.2rem; white-space: nowrap; }
.sw { display: inline-block; width: 1.6em; height: .35em; vertical-align: middle;
  margin-right: .3em; border-radius: 2px; }
.sw-orig { background: var(--orig); } .sw-reply { background: var(--reply); }
.sw-deny { background: var(--deny); } .sw-nat { background: var(--nat); }
.graph { overflow-x: auto; border: 1px solid var(--border); border-radius: 6px; padding: .4rem;
  background: var(--panel); }
.graph svg { display: block; width: 100%; height: auto; min-width: 900px; }
table { border-collapse: collapse; margin: .4rem 0; }
th, td { border: 1px solid var(--border); padding: .25rem .5rem; text-align: left;
  vertical-align: top; }
th { background: var(--panel); }
details { border: 1px solid var(--border); border-radius: 5px; margin: .35rem 0;
  background: var(--bg); }
details > summary { cursor: pointer; padding: .3rem .6rem; background: var(--panel);
  border-radius: 5px; }
details[open] > summary { border-bottom: 1px solid var(--border); border-radius: 5px 5px 0 0; }
.dir-original > summary { border-left: 5px solid var(--orig); }
.dir-reply > summary { border-left: 5px solid var(--reply); }
.steps { list-style: none; margin: 0; padding: .3rem .6rem; }
.steps li { padding: .1rem 0; }
.st-rule.m-false { color: var(--muted); }
.st-rule.m-true { color: var(--allow); }
.st-rule.m-unknown { color: var(--warn); }
.st-nat { color: var(--nat); font-weight: 600; }
.st-hook { font-weight: 600; }
li.decider { background: var(--deny-bg); color: var(--deny); font-weight: 700;
  outline: 2px solid var(--deny); border-radius: 3px; padding-left: .3rem; }
.where { color: var(--muted); }
.finding { border: 1px solid var(--border); border-left-width: 5px; border-radius: 5px;
  padding: .5rem .9rem; margin: .7rem 0; }
.finding.sev-high { border-left-color: var(--deny); }
.finding.sev-medium { border-left-color: var(--warn); }
.finding.sev-low { border-left-color: var(--orig); }
.finding.sev-info { border-left-color: var(--muted); }
.finding > * { color: var(--fg); }
.finding h3 .badge { margin-right: .4rem; }
/* SVG */
svg text { fill: var(--fg); font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace;
  font-size: 11px; }
svg .title { font: 600 12px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg .lane { font: 600 13px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
svg .box { fill: var(--hook); stroke: var(--border); stroke-width: 1.2; }
svg .box.visited { stroke: var(--fg); stroke-width: 1.6; }
svg .box.end { fill: var(--panel); stroke-dasharray: 4 3; }
svg .box.route { fill: var(--panel); }
svg .lanebg { fill: none; stroke: var(--border); stroke-dasharray: 2 4; }
svg .skel { stroke: var(--grid); stroke-width: 1.2; fill: none; stroke-dasharray: 5 4; }
svg .p-orig { stroke: var(--orig); stroke-width: 3; fill: none; }
svg .p-reply { stroke: var(--reply); stroke-width: 3; fill: none; }
svg .f-orig { fill: var(--orig); } svg .f-reply { fill: var(--reply); }
svg .f-grid { fill: var(--grid); }
svg .row-hit-o { fill: var(--hit); } svg .row-hit-r { fill: var(--hit-r); }
svg .row-decider { fill: var(--deny-bg); stroke: var(--deny); stroke-width: 2.2; }
svg text.decider { fill: var(--deny); font-weight: 700; }
svg text.docker { fill: var(--docker); font-weight: 700; }
svg text.pseudo { fill: var(--muted); font-style: italic; }
svg text.muted { fill: var(--muted); }
svg .natlabel { fill: var(--bg); stroke: var(--nat); stroke-width: 1.2; }
svg text.nat { fill: var(--nat); font-weight: 600; }
svg .iface { fill: var(--hook); stroke: var(--border); stroke-width: 1.2; }
svg .bridge { fill: var(--hit); stroke: var(--orig); stroke-width: 1.5; }
svg .container { fill: var(--panel); stroke: var(--docker); stroke-width: 1.5; }
svg .container.group { stroke-dasharray: 5 3; }
svg .published { fill: var(--deny-bg); stroke: var(--deny); stroke-width: 1.2; }
svg text.published-text { fill: var(--deny); font-weight: 600; }
svg .link { stroke: var(--grid); stroke-width: 1.5; fill: none; }
@media print {
  body { padding: 0; font-size: 11px; }
  .graph { overflow: visible; border: none; padding: 0; }
  .graph svg { min-width: 0; }
  details { break-inside: avoid; }
  details::details-content { content-visibility: visible; display: block; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def esc(value: object) -> str:
    """HTML-escape any value for text or attribute context."""
    return html.escape("" if value is None else str(value), quote=True)


def document(title: str, body: str) -> str:
    """A complete HTML document: doctype, charset, inline CSS, no external resources."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"color-scheme\" content=\"light dark\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"{body}\n<footer class=\"muted\"><p>Generated by nflens. This page is self-contained: "
            "no scripts, no network access.</p></footer>\n</body>\n</html>\n")
