"""Run the real `nflens` entry point (`nflens.cli.main.main`) in-process, the way a user's shell
does: argv in, exit code, stdout and stderr out. An exception that escapes main() is returned
as `traceback` (what the user would have seen), never raised, so a test can count them."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import traceback as tb
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"


@dataclass
class Run:
    code: int | None
    out: str
    err: str
    traceback: str | None = None


def run_main(*args: str) -> Run:
    from nflens.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["nflens", *map(str, args)]
    code: int | None = 0
    trace = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - that is what is counted
        code, trace = None, tb.format_exc()
    finally:
        sys.argv = argv
    return Run(code, out.getvalue(), err.getvalue(), trace)


def lab_copy(tmp: Path, name: str = "seed001_input_bypass-broken") -> Path:
    """A writable copy of a real lab snapshot."""
    dst = tmp / name
    shutil.copytree(LAB / name, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
