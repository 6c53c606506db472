"""`nflens --help` must stay fast (issue 14: ≤ 0.3 s): registering the commands imports no
parser, no IR, no kernel and no Rich progress bar (typer draws the help with rich.table
itself) — each command imports what it needs when it runs. Checked by what is imported, not by
a clock (the machine is shared)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("nflens.ir", "nflens.dialects", "nflens.kernel", "nflens.analysis", "nflens.snapshot",
         "nflens.flows", "nflens.policy", "nflens.lab", "rich.progress", "yaml",
         "pydantic")


def test_help_imports_nothing_heavy():
    code = ("import sys; sys.argv = ['nflens', '--help']\n"
            "from nflens.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stderr.split())
    assert "audit" in run.stdout and "check" in run.stdout
    assert sorted(m for m in loaded if m.startswith(HEAVY)) == []
