"""`flush ruleset` in nftables.conf: the fix flushes only the file's own tables, is verified by
re-auditing the rewritten file, and the printed shell gives exactly the text that was verified
(the lab proof: tests/lab/test_lab_nft_fix.py on the Docker 29 goldens)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"
CONF = ("#!/usr/sbin/nft -f\n\n  flush ruleset\n\ntable inet filter {\n"
        "\tchain input { type filter hook input priority filter; }\n}\nadd table admin\n")


def _finding(tmp_path, conf: str) -> dict:
    snap = tmp_path / "s"
    shutil.copytree(LAB / "seed000_web2-fixed", snap)
    (snap / "persist" / "etc").mkdir(parents=True)
    (snap / "persist" / "etc" / "nftables.conf").write_text(conf)
    found = {f["subject"]: f for f in audit(read_snapshot(snap))["findings"]}
    return found["etc/nftables.conf flush ruleset"]


def test_the_flush_ruleset_fix_is_verified_and_names_each_table_of_the_file(tmp_path):
    finding = _finding(tmp_path, CONF)
    assert finding["fix_verified"] is True  # before: a note only, never verified
    sed = next(ln for ln in finding["fix"].splitlines() if ln.startswith("sed "))
    assert "table inet filter; delete table inet filter; table ip admin; delete table " \
           "ip admin" in sed


@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")
def test_the_printed_sed_leaves_the_text_the_audit_verified(tmp_path):
    sed = next(ln for ln in _finding(tmp_path, CONF)["fix"].splitlines()
               if ln.startswith("sed "))
    script = re.match(r"sed '([^']*)' ", sed).group(1)
    out = subprocess.run(["sed", script], input=CONF, capture_output=True, text=True,
                         check=True).stdout
    assert out == CONF.replace("flush ruleset", "table inet filter; delete table inet filter; "
                               "table ip admin; delete table ip admin")


def test_a_table_iptables_nft_shares_gets_advice_not_a_fix_that_deletes_dockers_rules(tmp_path):
    finding = _finding(tmp_path, "flush ruleset\ntable ip filter {\n}\n")
    assert not finding["fix_verified"]
    assert "ip filter" in finding["fix"] and "Rename" in finding["fix"]
    assert "delete table ip filter" not in finding["fix"].replace("`", "")
