"""Local worker processes for analyses that are pure and split by published port
(`audit --jobs N`). The analysis never starts a process (ARCHITECTURE: rules of the house): it
takes a `mapper`, and this is the one that uses processes.

Workers are forked after the audit context is built, so they inherit the host and its indexes
without pickling; each answers `fn(ctx, i)` for the indexes it is given, and only the answers
(exposures: intervals and rule names) travel back. The answers are the same as in one
process: each is a pure function of the host and the port."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from typing import Any

_WORK: tuple[Callable[[Any, int], Any], Any] | None = None


def _call(i: int) -> tuple[int, Any]:
    if _WORK is None:
        raise RuntimeError("a job ran in a worker the pool did not initialise")
    fn, ctx = _WORK
    return i, fn(ctx, i)


def process_mapper(jobs: int):
    """A mapper for `analysis.audit.audit` running `jobs` processes (in this one for 1)."""

    def mapper(fn, ctx, items: list[int]) -> Iterator[tuple[int, Any]]:
        global _WORK
        if jobs <= 1 or len(items) < 2:
            for i in items:
                yield i, fn(ctx, i)
            return
        _WORK = (fn, ctx)
        try:
            with multiprocessing.get_context("fork").Pool(min(jobs, len(items))) as pool:
                # small chunks keep the workers busy to the end (ports differ in cost)
                yield from pool.imap_unordered(_call, items, chunksize=max(
                    1, len(items) // (jobs * 16)))
        finally:
            _WORK = None

    return mapper
