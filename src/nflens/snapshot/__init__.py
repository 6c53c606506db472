"""Snapshots: a directory of raw command outputs (CONTRACT §2) <-> an `ir.Host`.

- `read_snapshot(path) -> Host`: parse every file present (at least one), merge the rulesets,
  record assumptions for what is missing (read.py, hostfiles.py, dockerfiles.py, rulesets.py).
- `collect(out_dir, netns=None, docker_host=None) -> CollectReport`: run the read-only commands
  on a live host and write the files, never a container's environment (collect.py).
- `redact(src_dir, dst_dir) -> Redaction`: a copy safe to attach to a bug report, and what was
  removed or replaced (redact.py, pseudonyms.py).
"""

from __future__ import annotations

from nflens.snapshot.collect import CollectReport, collect
from nflens.snapshot.read import KNOWN_FILES, read_snapshot
from nflens.snapshot.redact import redact

__all__ = ["KNOWN_FILES", "CollectReport", "collect", "read_snapshot", "redact"]
