"""`nflens matrix` against fffuu's own output on the same dumps (../shared/corpus/fffuu-oracle):
for every dump and chain fffuu analysed, the allowed (source, destination) relation for ports
22 and 80 must be the same — compared on the common refinement of both partitions, not by
class names. Where fffuu failed, nflens must still answer.

Known, explained divergences are listed with their reason; the test fails if one disappears
(then remove it) or a new one appears.
"""

from __future__ import annotations

import re

import pytest

from nflens.dialects import parse_file
from nflens.errors import ParseError
from nflens.symbolic.matrix import parse_ipassmt, service_matrix
from tests.conftest import SHARED
from tests.symbolic.fffuu_out import parse as parse_out
from tests.symbolic.fffuu_out import relation_diff

ORACLE = SHARED / "corpus" / "fffuu-oracle" if SHARED else None
pytestmark = pytest.mark.skipif(ORACLE is None or not ORACLE.is_dir(),
                                reason="../shared/corpus/fffuu-oracle is absent")

EXPLAINED = {
    # fffuu's parser reads `--dport` without a preceding `-m tcp` as an unknown match (upper
    # closure: true in ACCEPT rules); iptables-restore, and nflens, load the implicit -m tcp.
    "found_online_jvehent_firewall.INPUT.out": "--dport without -m tcp",
}
# fffuu printed no matrix, and these are not rulesets nflens should read: `iptables -L`
# listings and a dump whose line 24 a terminal wrapped. nflens says so at FILE:LINE.
NOT_RULESETS = {"configs_psa_team_a_about_NOTRACK.txt",
                "found_online_tilb.sze.hu_bash_history-iptables.txt",
                "found_online_openwrt.org_iptables-save-AA.txt"}


def _outs():
    return sorted(ORACLE.glob("*.out")) if ORACLE and ORACLE.is_dir() else []


def _dump_and_chain(out):
    name, chain = out.name[:-4], "FORWARD"
    if name.endswith(".FORWARD"):
        name = name[:-8]
    elif name.endswith(".INPUT"):
        name, chain = name[:-6], "INPUT"
    return ORACLE / name, chain


def _ipassmt(text: str):
    m = re.search(r"^IpAssmt \[(.*)\]$", text[:20000], re.M)
    if not m:
        return None
    body = re.sub(r"\((\S+?),(Pos|Neg) \[([^\]]*)\]\)",
                  lambda g: f"{g.group(1)} = {'all_but_those_ips ' if g.group(2) == 'Neg' else ''}"
                            f"[{g.group(3)}]\n", m.group(1))
    return parse_ipassmt(body)


def _ipv4_oracle_on_ipv6_dump(theirs, ruleset) -> bool:
    """fffuu's IPv4 binary run on an ip6tables dump: it printed IPv4 classes, so it did not
    analyse the IPv6 rules at all — nothing to compare."""
    top = max(hi for ranges in theirs[0].values() for _, hi in ranges)
    return ruleset.tables[0].family == "ip6" and top < 2**32


@pytest.mark.parametrize("out", _outs(), ids=lambda p: p.name)
def test_same_relation_as_fffuu(out):
    text = out.read_text(errors="replace")
    matrices = parse_out(out)
    dump, chain = _dump_and_chain(out)
    if dump.name in NOT_RULESETS:
        assert not matrices
        with pytest.raises(ParseError, match=rf"{re.escape(str(dump))}:\d+: "):
            parse_file(dump)
        return
    ruleset = parse_file(dump)
    if not matrices:  # fffuu failed on this dump: nflens still answers
        result = service_matrix(ruleset, chain=chain, dport=22)
        assert result.classes and sum(hi - lo + 1 for c in result.classes for lo, hi in c) \
            == (2**32 if result.version == 4 else 2**128)
        return
    if _ipv4_oracle_on_ipv6_dump(next(iter(matrices.values())), ruleset):
        pytest.skip("fffuu (IPv4) did not analyse this IPv6 dump")
    diffs = {}
    for dport, theirs in matrices.items():
        mat = service_matrix(ruleset, chain=chain, dport=dport, ipassmt=_ipassmt(text))
        names = mat.names()
        ours = ({n: c for n, c in zip(names, mat.classes)},
                {(names[a], names[b]) for a, b in mat.edges})
        top = 2**32 - 1 if mat.version == 4 else 2**128 - 1
        d = relation_diff(ours, theirs, top)
        if d:
            diffs[dport] = d
    if out.name in EXPLAINED:
        assert diffs, f"{out.name} agrees now: remove it from EXPLAINED"
    else:
        assert not diffs, diffs
