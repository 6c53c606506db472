"""The direct-container-access finding on Docker 28's gateway modes (lab fixture
tests/fixtures/lab/docker28/gateway_modes-default: the kernel reached r1:80 (routed, published),
n1:80 and n2:80 (nat-unprotected) directly from the LAN and the WAN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import direct_access
from nflens.snapshot.read import read_snapshot

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lab" / "docker28" / \
    "gateway_modes-default"


@pytest.fixture(scope="module")
def found():
    ctx = AuditContext(read_snapshot(FIXTURE))
    for q in direct_access.questions(ctx):
        ctx.answer(q)
    return {f.subject: f for f in direct_access.detect(ctx)}


def test_a_port_published_on_a_routed_network_is_no_direct_access_finding(found):
    assert not any("r1" in s for s in found)


def test_a_published_port_is_not_called_unpublished(found):
    assert "no port published" not in found["container n1 10.56.0.10"].explanation
    assert "no port published" in found["container n2 10.56.0.11"].explanation


def test_no_raw_table_drop_is_promised_on_a_nat_unprotected_network(found):
    for f in found.values():
        assert "drop these in the raw table by itself" not in f.fix.text()
        assert "nat-unprotected" in f.explanation
