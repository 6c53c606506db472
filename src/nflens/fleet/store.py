"""A fleet run's records on disk (`--out DIR`): JSON lines, streamed as hosts finish.

    DIR/hosts.jsonl.partial   this run, one line per host as it finishes (flushed each line)
    DIR/hosts.jsonl           the last finished run (the partial file renamed at the end)
    DIR/previous.jsonl        the run before it
    DIR/summary.json          the last finished run's summary

Why this shape: a run killed halfway keeps every host it finished (the next run reuses them by
digest, so it resumes), and a finished run never leaves a half-written `hosts.jsonl` behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from nflens.errors import NflensError

RECORDS = "hosts.jsonl"
PARTIAL = "hosts.jsonl.partial"
PREVIOUS = "previous.jsonl"
SUMMARY = "summary.json"


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """Host name -> record from a JSON-lines file; a torn last line (a killed run) is skipped."""
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("host"), str):
                out[rec["host"]] = rec
    return out


def previous_run(path: Path) -> dict[str, dict[str, Any]]:
    """The records of an earlier run: its `--out` directory or a JSON-lines file itself."""
    if path.is_dir():
        return read_records(path / RECORDS)
    if path.is_file():
        return read_records(path)
    raise NflensError(f"{path}: no earlier fleet run there (a --out directory or {RECORDS})")


class Store:
    def __init__(self, out: Path | None):
        self.out = out
        self._fh: TextIO | None = None
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise NflensError(f"{out}: cannot create the output directory: "
                                  f"{exc.strerror or exc}") from exc

    def reusable(self) -> dict[str, dict[str, Any]]:
        """Records this directory already holds (the last run, then a killed run's partial)."""
        if self.out is None:
            return {}
        found = read_records(self.out / RECORDS)
        found.update(read_records(self.out / PARTIAL))
        # a cluster failure (`transient`) says nothing about the snapshot: audit it again
        return {k: v for k, v in found.items() if "digest" in v and not v.get("transient")}

    def last_run(self) -> dict[str, dict[str, Any]]:
        return read_records(self.out / RECORDS) if self.out is not None else {}

    def begin(self) -> None:
        if self.out is not None:
            self._fh = (self.out / PARTIAL).open("w", encoding="utf-8")

    def add(self, record: dict[str, Any]) -> None:
        if self._fh is not None:
            self._fh.write(json.dumps(record, sort_keys=True) + "\n")
            self._fh.flush()

    def finish(self, summary: dict[str, Any]) -> None:
        if self.out is None or self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        if (self.out / RECORDS).exists():
            os.replace(self.out / RECORDS, self.out / PREVIOUS)
        os.replace(self.out / PARTIAL, self.out / RECORDS)
        tmp = self.out / (SUMMARY + ".tmp")
        tmp.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.out / SUMMARY)

    def close(self) -> None:
        """An interrupted run: keep the partial file (the next run resumes from it)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def ordered(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: r["host"])
