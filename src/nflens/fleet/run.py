"""The one place that talks to Dask: submit one audit per changed host, stream the records back.

Why Dask distributed and not a pool of our own: platform teams already run Dask clusters for
batch work; `--scheduler ADDRESS` puts the fleet on one of those (its workers need nflens
installed and ROOT readable at the same path), and without it a LocalCluster of N worker
processes runs on this machine. Dask also gives the fault behaviour a fleet needs: when a worker
process dies mid-task (OOM, a kill), the scheduler runs the task again on another worker, so a
lost worker changes no result (the audit is a pure function of the snapshot).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from nflens.errors import NflensError
from nflens.fleet.hosts import HostRef
from nflens.fleet.store import Store
from nflens.fleet.work import audit_host

OnRecord = Callable[[dict[str, Any], bool], None]  # (record, reused)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None, timeout: str = "15s") -> Iterator[Any]:
    """A client of an existing cluster at SCHEDULER, else of a LocalCluster of WORKERS processes
    (one thread each: the audit is CPU-bound Python)."""
    from nflens.extras import require

    require("fleet", "nflens fleet")
    from distributed import Client, LocalCluster
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise NflensError(f"--scheduler {scheduler}: cannot reach the Dask scheduler: {exc}") \
                from exc
        with client:
            yield client
        return
    if workers < 1:
        raise NflensError("--workers must be at least 1")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def audit_fleet(refs: list[HostRef], store: Store, client: Any,
                on_record: OnRecord | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every host's record (reused when its digest is unchanged, else audited on CLIENT's
    cluster), streamed to STORE and ON_RECORD as each is known. Returns (records, reused)."""
    from distributed import as_completed

    notify = on_record or (lambda rec, reused: None)
    known = store.reusable()
    records: list[dict[str, Any]] = []
    store.begin()
    todo = []
    for ref in refs:
        old = known.get(ref.name)
        if old is not None and old.get("digest") == ref.digest:
            records.append(old)
            store.add(old)
            notify(old, True)
        else:
            todo.append(ref)
    reused = len(records)
    futures = {client.submit(audit_host, ref.name, str(ref.path), ref.digest,
                             key=f"nflens-audit-{ref.name}-{ref.digest[:16]}"): ref
               for ref in todo}
    for future in as_completed(list(futures)):
        ref = futures[future]
        try:
            rec = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task killed workers
            rec = {"host": ref.name, "digest": ref.digest, "transient": True,
                   "error": f"the audit failed on the cluster: {type(exc).__name__}: {exc}"}
        records.append(rec)
        store.add(rec)
        notify(rec, False)
    return sorted(records, key=lambda r: r["host"]), reused
