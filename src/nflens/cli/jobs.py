"""Local worker processes for analyses that are pure and split by published port
(`audit --jobs N`: the exposure of each published port, and the questions the findings will
ask). The analysis never starts a process (ARCHITECTURE: rules of the house): it
takes a `mapper`, and this is the one that uses processes.

Workers are forked after the audit context is built, so they inherit the host and its indexes
without pickling; each answers `fn(ctx, i)` for the indexes it is given, and only the answers
(exposures and reaches: intervals and rule names) travel back. The answers are the same as in one
process: each is a pure function of the host and the port."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import Any

_WORK: tuple[Callable[[Any, int], Any], Any] | None = None


def _call(i: int) -> tuple[int, Any]:
    if _WORK is None:
        raise RuntimeError("a job ran in a worker the pool did not initialise")
    fn, ctx = _WORK
    return i, fn(ctx, i)


# Fewer ports than this per worker and the fork, the workers' cold caches (chain indexes,
# routes: the first flows of a fresh simulator cost half again as much) and the return of
# the answers cost more than the split saves (measured on the 400-container lab host).
MIN_PER_WORKER = 50


def workers(jobs: int, items: int, min_per_worker: int = MIN_PER_WORKER) -> int:
    """How many processes `--jobs N` really uses: no more than the CPUs this process may run
    on (a pool bigger than that only adds switching), nor than MIN_PER_WORKER ports each;
    1 means in this process."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(jobs, cpus, items // max(1, min_per_worker)))


def process_mapper(jobs: int, min_per_worker: int = MIN_PER_WORKER):
    """A mapper for `analysis.audit.audit` running up to `jobs` processes (see `workers`)."""

    def mapper(fn, ctx, items: list[int], ports: int) -> Iterator[tuple[int, Any]]:
        global _WORK
        n = workers(jobs, ports, min_per_worker)
        if n <= 1:
            for i in items:
                yield i, fn(ctx, i)
            return
        _WORK = (fn, ctx)
        try:
            with multiprocessing.get_context("fork").Pool(n) as pool:
                # small chunks keep the workers busy to the end (ports differ in cost)
                yield from pool.imap_unordered(_call, items, chunksize=max(
                    1, len(items) // (n * 16)))
        finally:
            _WORK = None

    return mapper
