"""Self-contained HTML reports (inline CSS and SVG, no script, no network): `nflens trace
--html` (trace_html) and `nflens audit --html` (audit_html)."""

from __future__ import annotations

from pathlib import Path

from nflens.report.html.trace_html import render_trace_html


def write_trace_html(result, path: Path, host=None, change=None) -> None:
    write_page(path, render_trace_html(result, host, change))




def write_page(path, text: str) -> None:
    """Write one HTML page; a path that cannot be written is the user's input error."""
    from nflens.errors import NflensError

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NflensError(f"{path}: cannot write the HTML report: {exc.strerror or exc}") \
            from exc


__all__ = ["render_trace_html", "write_page", "write_trace_html"]
