"""The audit page (issue 29 item 9): the egress table the text report has, the red bar only
beside a container whose published port someone can reach, and a big host grouped per network."""

from __future__ import annotations

import re

import pytest

from nflens.analysis.audit import audit
from nflens.report.html.audit_html import render_audit_html
from nflens.report.html.hostgraph import GROUP_ABOVE
from nflens.snapshot.archive import read_host
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"
BIG = sorted((REPO / "bench" / "hosts").glob("docker20.10.24-400c-*.tar.xz"))


def _page(snap):
    host = read_host(snap)
    result = audit(host, verify=False)
    return host, result, render_audit_html(host, result)


def _bars(page: str) -> list[str]:
    """The containers drawn with a red bar: the box just before each bar names them."""
    names = []
    for m in re.finditer(r'<rect class="published"', page):
        box = page.rfind('<rect class="container"', 0, m.start())
        names.append(re.search(r'class="title"[^>]*>([^<]*)<', page[box:]).group(1))
    return names


def test_the_egress_table_is_on_the_page():
    _, result, page = _page(LAB / "seed001_input_bypass-broken")
    assert result["egress"]
    table = page[page.index('<table class="egress">'):]
    table = table[:table.index("</table>")]
    for e in result["egress"]:
        assert f"<code>{e['proto']}/{e['port']}</code>" in table
    assert table.count("<tr><td>bridge</td><td>web</td>") == len(result["egress"])


@pytest.mark.parametrize("variant,barred", [("broken", ["web1"]), ("fixed", ["web1", "web2"])])
def test_a_red_bar_only_beside_a_container_someone_can_reach(variant, barred):
    # seed 000: web2 publishes a port nobody can reach until the fix; web1's is reachable
    _, result, page = _page(LAB / f"seed000_web2-{variant}")
    reach = {e["target"]["container"] for e in result["exposure"] if "container" in e["target"]
             and any(r["sources"] for r in e["reachable_from"])}
    assert sorted(_bars(page)) == sorted(reach) == barred
    assert "published 0.0.0.0:" in page.split("web2", 1)[1]  # web2 still shows its port


@pytest.mark.skipif(not BIG, reason="bench/hosts/docker20.10.24-400c-*.tar.xz not present")
def test_a_400_container_host_is_grouped_per_network():
    host, result, page = _page(BIG[0])
    assert len(host.docker.containers) == 400
    boxes = page.count('<rect class="container" ')
    groups = re.findall(r'<rect class="container group"[^>]*>.*?</rect>\s*'
                        r'<text class="title"[^>]*>(\d+) more containers<', page)
    assert boxes <= 2 * GROUP_ABOVE and groups  # was 400 boxes, 27,809 px high
    assert boxes + sum(map(int, groups)) == 400  # every container drawn or counted
    height = int(re.search(r'id="hostgraph"[^>]*viewBox="0 0 1360 (\d+)"', page).group(1))
    assert height < 3000
    # the bar still only where a published port is reachable
    reach = {e["target"]["container"] for e in result["exposure"] if "container" in e["target"]
             and any(r["sources"] for r in e["reachable_from"])}
    assert _bars(page) and set(_bars(page)) <= reach
