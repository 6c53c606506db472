"""The hosts of a fleet root: one snapshot per subfolder or per `.tar.gz`, each with a digest of
its content, so an unchanged snapshot is recognised and not audited again.

Why a content digest and not a modification time: snapshots are copied around (rsync, CI
artefacts) and a copy gets new times but is the same host state.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from nflens.errors import NflensError

TARBALL_SUFFIXES = (".tar.gz", ".tgz")


@dataclass(frozen=True)
class HostRef:
    name: str
    path: Path
    digest: str

    @property
    def is_tarball(self) -> bool:
        return self.path.name.endswith(TARBALL_SUFFIXES)


def host_name(path: Path) -> str:
    name = path.name
    for suffix in TARBALL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def digest(path: Path) -> str:
    """sha256 over the regular files of a snapshot (relative path, size, bytes), in path order;
    of the file itself for a tarball. Links and special files are skipped, as the reader skips
    them."""
    h = hashlib.sha256()
    if path.is_file():
        _feed(h, path)
        return h.hexdigest()
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            f = Path(root, name)
            if f.is_symlink() or not f.is_file():
                continue
            rel = f.relative_to(path).as_posix().encode()
            h.update(len(rel).to_bytes(4, "big") + rel)
            h.update(f.stat().st_size.to_bytes(8, "big"))
            _feed(h, f)
    return h.hexdigest()


def _feed(h, path: Path) -> None:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def discover(root: Path) -> list[HostRef]:
    """Every snapshot directly under ROOT, sorted by name. Hidden entries and links are skipped;
    two entries with one host name (`a/` and `a.tar.gz`) are an error, since their records
    would overwrite each other."""
    if not root.is_dir():
        raise NflensError(f"{root}: not a directory of host snapshots")
    refs: dict[str, HostRef] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if not (entry.is_dir() or (entry.is_file() and entry.name.endswith(TARBALL_SUFFIXES))):
            continue
        name = host_name(entry)
        if name in refs:
            raise NflensError(f"{root}: two snapshots for host {name!r}: "
                              f"{refs[name].path.name} and {entry.name}")
        refs[name] = HostRef(name, entry, digest(entry))
    if not refs:
        raise NflensError(f"{root}: no host snapshots (one subfolder or .tar.gz per host)")
    return list(refs.values())
