"""The ebtables-save.txt of the shared real snapshot parses (it is empty: no bridge rules)."""

from __future__ import annotations

import pytest

from nflens.dialects.ebtables import parse
from tests.conftest import EXAMPLES, SHARED


@pytest.mark.parametrize("root", [SHARED / "examples", EXAMPLES])
def test_snapshot_example_ebtables_dump_parses(root):
    path = root / "snapshot-example" / "ebtables-save.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    rs = parse(path.read_text(), str(path))
    assert rs.dialect == "ebtables"
    assert all(t.family == "bridge" for t in rs.tables)
