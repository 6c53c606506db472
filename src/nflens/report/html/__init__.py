"""Self-contained HTML reports (inline CSS and SVG, no script, no network): `nflens trace
--html` (trace_html) and `nflens audit --html` (audit_html)."""

from __future__ import annotations

from pathlib import Path

from nflens.report.html.trace_html import render_trace_html


def write_trace_html(result, path: Path, host=None, change=None) -> None:
    Path(path).write_text(render_trace_html(result, host, change), encoding="utf-8")


__all__ = ["render_trace_html", "write_trace_html"]
