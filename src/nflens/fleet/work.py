"""The task one Dask worker runs for one host: read its snapshot, audit it, return a record.

A record is plain JSON data (it crosses process boundaries and is stored as a JSON line):
`{"host", "digest", "group", "group_from", ...every key of `nflens audit --json`...}` or, when the
snapshot cannot be read or audited, `{"host", "digest", "error"}`. A broken host never stops the
fleet, so every exception ends here as an error record: an NflensError with its own message,
anything else named as an internal error (a bug to report, with the host that shows it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nflens.errors import NflensError

GROUP_FILE = "group.txt"  # an optional label file in a snapshot: its first line names the group


@contextlib.contextmanager
def snapshot_dir(path: Path) -> Iterator[Path]:
    """A directory to read: the snapshot itself, or a tarball unpacked safely."""
    if path.is_dir():
        yield path
        return
    from nflens.snapshot.archive import opened  # tarball support lives with the snapshot reader

    with opened(path) as unpacked:
        yield unpacked


def audit_host(name: str, path: str, digest: str) -> dict[str, Any]:
    from nflens.analysis.audit import audit
    from nflens.snapshot.read import read_snapshot

    try:
        with snapshot_dir(Path(path)) as snap:
            host = read_snapshot(snap)
            group, group_from = host_group(snap, host)
            result = audit(host, verify=True)
    except NflensError as exc:
        return {"host": name, "digest": digest, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one host's bug must not end the fleet run
        return {"host": name, "digest": digest,
                "error": f"internal error: {type(exc).__name__}: {exc}"}
    return {"host": name, "digest": digest, "group": group, "group_from": group_from, **result}


def host_group(snap: Path, host) -> tuple[str, str]:
    """The group a host is compared within: the snapshot's label file when it has one, else the
    set of container images it runs (hosts of one role run the same images)."""
    label = snap / GROUP_FILE
    if label.is_file() and not label.is_symlink():
        first = label.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if first and first[0].strip():
            return first[0].strip(), "label"
    images = sorted({c.image for c in host.runtimes.containers if c.image})
    return ("images: " + ", ".join(images) if images else "images: none"), "images"
