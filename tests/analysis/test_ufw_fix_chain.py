"""The ufw fix hands a published port's connections to ufw's `ufw-user-forward` chain; on a
snapshot whose filter table has no such chain it must not print (or verify) a jump to it, but
give the DOCKER-USER form and name the missing chain (perf2, issue 14)."""

from __future__ import annotations

import shutil

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

BROKEN = REPO / "tests" / "fixtures" / "lab" / "ufw_docker-broken"


def _without_ufw_forward(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(BROKEN, snap)
    save = snap / "iptables-save.txt"
    lines = save.read_text().splitlines(keepends=True)
    kept = [t for t in lines if "ufw-user-forward" not in t]
    assert len(kept) < len(lines)
    save.write_text("".join(kept))
    return read_snapshot(snap)


def _bypass_fixes(host) -> list[dict]:
    return [f for f in audit(host)["findings"] if f.get("fix") and "DROP" in f["fix"]
            and "--ctorigdstport" in f["fix"]]


def test_the_ufw_fix_is_the_route_form_where_the_chain_exists():
    fixes = _bypass_fixes(read_snapshot(BROKEN))
    assert fixes and all("-A DOCKER-USER -j ufw-user-forward" in f["fix"] for f in fixes)
    assert any("ufw route allow" in f["fix"] for f in fixes)


def test_without_ufw_user_forward_the_fix_names_the_missing_chain(tmp_path):
    fixes = _bypass_fixes(_without_ufw_forward(tmp_path))
    assert fixes
    for f in fixes:
        assert "-j ufw-user-forward" not in f["fix"], f["fix"]
        assert "ufw route allow" not in f["fix"], f["fix"]
        assert "no ufw-user-forward chain" in f["fix"], f["fix"]
        assert f["fix_verified"] is True
