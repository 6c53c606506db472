"""The HTML reports in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
Playwright. The SVG renders with real boxes, the deciding rule is visible, no console error, no
request leaves the page; screenshots (light and dark) go to build/screenshots/.

Skips when chromium or playwright is missing. Never runs `playwright install`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.report.conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("NFLENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path, scheme: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.emulate_media(color_scheme=scheme)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def _visible_box(page, selector: str) -> dict:
    loc = page.locator(selector).first
    assert loc.count() if hasattr(loc, "count") else True
    box = loc.bounding_box()
    assert box is not None, selector
    assert box["width"] > 0 and box["height"] > 0, (selector, box)
    return box


def _check_clean(path: Path, problems: list[str], requests: list[str]) -> None:
    assert not problems, problems
    # the file itself is the only request the page makes
    assert requests == [path.as_uri()], requests


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_trace_page_renders(browser, denied, allowed, tmp_path, scheme):
    from nflens.report.html import write_trace_html

    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, (host, result, change) in (("trace-denied", denied), ("trace-allowed", allowed)):
        path = tmp_path / f"{name}.html"
        write_trace_html(result, path, host=host, change=change)
        page, problems, requests = _open(browser, path, scheme)
        svg = _visible_box(page, "svg#hookgraph")
        assert svg["width"] > 800
        assert page.locator("svg#hookgraph g.node").count() >= 9
        for box in page.locator("svg#hookgraph rect.box").all()[:12]:
            b = box.bounding_box()
            assert b and b["width"] > 0 and b["height"] > 0
        _visible_box(page, "svg#hookgraph path.p-orig")
        if name == "trace-denied":
            _visible_box(page, "#decider-row")
            _visible_box(page, "#decider-callout")
            assert page.locator("#decider-summary").is_visible()
            decider = page.locator("li#decider")
            assert decider.is_visible()
            assert "iptables-save.txt:24" in decider.inner_text()
            # the highlight really shows: its background differs from the page's
            bg = decider.evaluate("e => getComputedStyle(e).backgroundColor")
            body = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert bg != body
        else:
            _visible_box(page, "svg#hookgraph path.p-reply")
            _visible_box(page, "svg#hookgraph g.nat")
        _check_clean(path, problems, requests)
        page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"), full_page=True)
        page.locator("svg#hookgraph").screenshot(path=str(SHOTS / f"{name}-graph-{scheme}.png"))
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_audit_page_renders(browser, audited, tmp_path, scheme):
    from nflens.report.html.audit_html import render_audit_html

    SHOTS.mkdir(parents=True, exist_ok=True)
    host, result = audited
    path = tmp_path / "audit.html"
    path.write_text(render_audit_html(host, result), encoding="utf-8")
    page, problems, requests = _open(browser, path, scheme)
    _visible_box(page, "svg#hostgraph")
    _visible_box(page, "svg#hostgraph rect.container")
    _visible_box(page, "svg#hostgraph rect.bridge")
    _visible_box(page, "table.exposure")
    assert page.locator("section.finding").count() == len(result["findings"])
    _check_clean(path, problems, requests)
    page.screenshot(path=str(SHOTS / f"audit-{scheme}.png"), full_page=True)
    page.close()


def test_print_media(browser, denied, tmp_path):
    """Printable: the print stylesheet applies and the graph still has a size."""
    from nflens.report.html import write_trace_html

    host, result, change = denied
    path = tmp_path / "p.html"
    write_trace_html(result, path, host=host, change=change)
    page, problems, _ = _open(browser, path, "light")
    page.emulate_media(media="print")
    _visible_box(page, "svg#hookgraph")
    assert page.pdf(format="A4", landscape=True)[:4] == b"%PDF"
    assert not problems
    page.close()
