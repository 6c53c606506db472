"""Fleet audits: one `nflens audit` per host snapshot, run on Dask distributed, summarised.

Layering: `hosts` finds the snapshots and their content digests (pure file reading), `work` is
the task a worker runs (read one snapshot, audit it; errors become records), `summary` is a pure
function over the records, `store` keeps the records of a run in `--out` (JSON lines, streamed),
`run` is the one place that talks to Dask.
"""
