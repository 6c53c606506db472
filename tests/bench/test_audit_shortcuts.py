"""The audit's shortcuts answer what the long way answers (issue 14): the port index of the
admin's forward-path rules (input-bypass) picks exactly the rules `addresses_published_port`
picks, and the unreachable finding's `still_there` (one connection first, the full judgement
only when it does not pass) agrees with running the module again on the fixed host. Checked
on the lab-built bench hosts (real Docker 20.10, 28 and ufw rule sets) and on a hand-written
allow-list with ranges, sets and nft port matches, the forms the index cannot file by port."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import realhosts  # noqa: E402

from nflens.analysis import audit as audit_mod  # noqa: E402
from nflens.analysis.context import AuditContext  # noqa: E402
from nflens.analysis.findings import unreachable  # noqa: E402
from nflens.analysis.fixes import Fix  # noqa: E402
from nflens.analysis.portrules import PortIndex, addresses_published_port  # noqa: E402
from nflens.dialects import iptables  # noqa: E402
from nflens.snapshot.read import read_snapshot  # noqa: E402

ARCHIVES = realhosts.archives()
pytestmark = pytest.mark.skipif(not ARCHIVES, reason="no lab-built bench host")


@pytest.fixture(scope="module", params=ARCHIVES, ids=lambda a: a.name.split(".tar")[0])
def ctx(request) -> AuditContext:
    return AuditContext(read_snapshot(realhosts.unpacked(request.param)))


def _rules(ctx, family):
    return [r for _, r in ctx.user_forward_rules(family)]


def test_port_index_picks_the_rules_the_walk_picks(ctx):
    index = {f: PortIndex(_rules(ctx, f)) for f in ("ip", "ip6")}
    assert ctx.published
    for p in ctx.published:
        walk = [r for r in _rules(ctx, p.family) if addresses_published_port(r, p)]
        assert index[p.family].addressing(p) == walk, p.subject()


ALLOW_LIST = """*filter
:DOCKER-USER - [0:0]
-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 20000:20005 -j ACCEPT
-A DOCKER-USER -p tcp -m multiport --dports 80,443 -j ACCEPT
-A DOCKER-USER -p tcp -m tcp --dport 80 -d 10.9.9.9/32 -j ACCEPT
-A DOCKER-USER -p tcp -m conntrack ! --ctorigdstport 20001 -j DROP
-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 20010 -j ACCEPT
-A DOCKER-USER -p tcp -m tcp --dport 8000:8100 -j ACCEPT
-A DOCKER-USER -p tcp -m tcp --dport 1024:65535 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
"""


def test_port_index_with_ranges_sets_and_negations(ctx):
    """Narrow ranges are filed under each of their ports, wide ones go to the always-tried
    list, multiport sets are filed under each port, negated ports are not addressing (as
    `addresses_published_port` reads them)."""
    rules = [r for t in iptables.parse(ALLOW_LIST, "allow.rules").tables for c in t.chains
             for r in c.rules]
    index = PortIndex(rules)
    assert len(index.always) == 1  # 1024:65535; 20000:20005 and 8000:8100 are filed by port
    for p in ctx.published[:60]:
        assert index.addressing(p) == [r for r in rules if addresses_published_port(r, p)]


def test_port_index_files_single_ports_by_port(ctx):
    """`--ctorigdstport P` (read as the range (P, P)) is filed under P: each published port
    meets its own allow-list rule, not all of them."""
    rules = _rules(ctx, "ip")
    index = PortIndex(rules)
    per_port = [r for r in rules if "--ctorigdstport" in (r.source.text if r.source else "")]
    assert per_port and not index.always
    assert sum(len(v) for v in index.host_port.values()) == len(per_port)


def test_unreachable_still_there_agrees_with_detect_again(ctx):
    found = unreachable.detect(ctx)
    # on the unfixed host every finding is still there, judged in full (the slow path)
    for f in found[:10]:
        assert unreachable.still_there(ctx, f) == f.explanation
    batch = [f for f in found if f.fix.edits and all(e.spec is not None for e in f.fix.edits)]
    if not batch:
        pytest.skip("no unreachable port with rule fixes on this host")
    scope = set().union(*(f.scope for f in batch))
    fixed = audit_mod._fixed_context(ctx, Fix([e for f in batch for e in f.fix.edits]), scope)
    again = {f.subject: f.explanation for f in unreachable.detect(fixed)}
    fixed_fresh = audit_mod._fixed_context(ctx, Fix([e for f in batch for e in f.fix.edits]),
                                           scope)
    for f in batch:
        assert unreachable.still_there(fixed_fresh, f) == again.get(f.subject), f.subject
