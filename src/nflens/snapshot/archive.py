"""A snapshot as one file: write a .tar.gz, and read one safely wherever a snapshot is expected.

`snapshot collect --tar FILE.tar.gz`, the shell script's `--tar` and `snapshot redact ...
OUT.tar.gz` write one top-level directory (the snapshot's name) holding the files. Every
`--snapshot` option reads through `read_host()`, which takes a directory as it is and a
tarball by extracting it into a temporary directory, removed as soon as the Host is read
(read_snapshot keeps nothing on disk it needs later).

A tarball comes from someone else's machine, so extraction trusts nothing in it: only regular
files and directories (no symbolic or hard links, devices, FIFOs, sparse files), no absolute
path and no `..`, no member twice, at most MAX_MEMBERS members, MAX_FILE_BYTES per file and
MAX_TOTAL_BYTES in all (checked against the headers before a byte is written, and the copy
stops at the header's size). Files are created by us (mode 0600, never the archive's modes or
owners), each path exactly once (`open(..., "xb")`), so nothing can be redirected through an
earlier member. A refused member is a SnapshotError naming the tarball and the member.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from nflens.errors import NflensError, ParseError, SnapshotError
from nflens.ir.host import Host

MAX_MEMBERS = 20_000
MAX_FILE_BYTES = 256 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_STREAM_BYTES = MAX_TOTAL_BYTES + (64 << 20)  # the files and their headers
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_CHUNK = 1 << 16


def is_tar_name(path: str | Path) -> bool:
    """A name that asks for a tarball (an output path: a .tar.gz, .tgz or .tar)."""
    return str(path).lower().endswith(TAR_SUFFIXES)


def stem(path: str | Path) -> str:
    """host1.tar.gz -> host1: the snapshot's name inside its tarball."""
    name = Path(path).name
    for suffix in TAR_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "snapshot"


def write_tar(src_dir: str | Path, tar_path: str | Path) -> Path:
    """Pack snapshot directory `src_dir` as `tar_path` (gzip), under one directory named like
    `src_dir`. Written to a temporary name first: a half-written tarball never has the name."""
    src, out = Path(src_dir), Path(tar_path)
    part = out.with_name(out.name + ".part")
    name = src.resolve().name or "snapshot"
    with tarfile.open(part, "w:gz") as tar:
        tar.add(src, arcname=name, filter=_plain)
    part.replace(out)
    return out


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """What we write is what we accept: files and directories, no owner names."""
    if not (info.isfile() or info.isdir()):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _member_path(tar_name: str, member: tarfile.TarInfo) -> str:
    """The member's relative path, or SnapshotError when it is not a plain file or directory
    at a safe path."""
    name = member.name
    kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk() else
            "a device" if member.ischr() or member.isblk() else "a FIFO" if member.isfifo()
            else "a sparse file" if member.type == tarfile.GNUTYPE_SPARSE else None)
    if kind is None and member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        kind = f"a member of type {member.type!r}"
    if kind is not None:
        raise SnapshotError(f"{tar_name}: member {name!r} is {kind}: a snapshot tarball holds "
                            "only regular files and directories")
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise SnapshotError(f"{tar_name}: member {name!r} has an absolute or unusual path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SnapshotError(f"{tar_name}: member {name!r} leaves the snapshot (`..`)")
    return posixpath.join(*parts) if parts else ""


def extract(tar_path: str | Path, dest: str | Path) -> Path:
    """Extract `tar_path` into the new directory `dest` (see the module docstring); returns
    the snapshot's root: its single top-level directory, or `dest` itself."""
    tar_name, dest = str(tar_path), Path(dest)
    dest.mkdir(parents=True)
    try:
        with open(tar_name, "rb") as raw, _decompressed(raw, tar_name) as stream, \
                tarfile.open(fileobj=stream, mode="r:") as tar:
            files = _extract_members(tar, tar_name, dest)
    except NflensError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
        raise SnapshotError(f"{tar_name}: not a snapshot directory or tarball "
                            f"({_why(exc)})") from exc
    if not files:  # a gzip of zeros is an empty tar: that is not a snapshot of anything
        raise SnapshotError(f"{tar_name}: not a snapshot directory or tarball (a tarball with "
                            "no file in it)")
    return _root(dest)


def _why(exc: BaseException) -> str:
    """What was wrong with the file, in words (not tarfile's internals)."""
    text = str(exc).lower()
    if isinstance(exc, EOFError) or "truncated" in text or "unexpected end" in text:
        return "truncated"
    if isinstance(exc, zlib.error | lzma.LZMAError) or "gzip" in text or "crc" in text \
            or "invalid data stream" in text:
        return "corrupt compressed data"
    if isinstance(exc, tarfile.TarError):
        return "not a tar archive, plain or gzip, bzip2 or xz compressed"
    return getattr(exc, "strerror", None) or type(exc).__name__


_DECOMPRESSORS: tuple[tuple[bytes, Callable[[BinaryIO], Any]], ...] = (
    (b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", lambda f: bz2.BZ2File(f)),
    (b"\xfd7zXZ\x00", lambda f: lzma.LZMAFile(f)),  # noqa: SIM115 - closed by the caller
)


@contextmanager
def _decompressed(raw: BinaryIO, tar_name: str) -> Iterator[BinaryIO]:
    """The tar stream of `raw` (gzip, bzip2, xz or plain, told by its magic bytes), cut off at
    MAX_STREAM_BYTES: tarfile reads a GNU long name or a pax header whole into memory, so the
    member limits alone do not bound what a hostile header makes it read."""
    magic = raw.read(6)
    raw.seek(0)
    opener = next((o for m, o in _DECOMPRESSORS if magic.startswith(m)), None)
    inner: Any = opener(raw) if opener else raw
    with inner:
        yield cast(BinaryIO, _Bounded(inner, tar_name))


class _Bounded(io.RawIOBase):
    """A forward reader of the decompressed stream that refuses to go past MAX_STREAM_BYTES."""

    def __init__(self, inner: BinaryIO, tar_name: str):
        super().__init__()
        self.inner, self.tar_name = inner, tar_name

    def _check(self, position: int) -> None:
        if position > MAX_STREAM_BYTES:
            raise SnapshotError(f"{self.tar_name}: decompresses to more than "
                                f"{MAX_STREAM_BYTES} bytes: not a snapshot (not read further)")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        start = self.inner.tell()
        want = MAX_STREAM_BYTES + 1 - start if size is None or size < 0 else size
        data = self.inner.read(min(want, MAX_STREAM_BYTES + 1 - start))
        self._check(start + len(data))
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - tarfile calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self.inner.tell() + offset
        if whence == io.SEEK_END:
            raise OSError("a tar stream is read forward")
        self._check(target)
        return self.inner.seek(target)

    def tell(self) -> int:
        return self.inner.tell()


def _extract_members(tar: tarfile.TarFile, tar_name: str, dest: Path) -> int:
    """Extract every member; the number of regular files extracted."""
    count = total = files = 0
    for member in tar:
        count += 1
        if count > MAX_MEMBERS:
            raise SnapshotError(f"{tar_name}: more than {MAX_MEMBERS} members: not a snapshot")
        rel = _member_path(tar_name, member)
        if not rel:
            continue
        target = dest / rel
        if member.isdir():
            _mkdirs(tar_name, dest, rel)
            continue
        if member.size > MAX_FILE_BYTES:
            raise SnapshotError(f"{tar_name}: member {rel!r} is {member.size} bytes, more than "
                                f"the {MAX_FILE_BYTES} a snapshot file may have")
        total += member.size
        if total > MAX_TOTAL_BYTES:
            raise SnapshotError(f"{tar_name}: more than {MAX_TOTAL_BYTES} bytes in all: "
                                "not a snapshot")
        _mkdirs(tar_name, dest, posixpath.dirname(rel))
        _copy(tar, member, tar_name, rel, target)
        files += 1
    return files


def _mkdirs(tar_name: str, dest: Path, rel: str) -> None:
    path = dest
    for part in (p for p in rel.split("/") if p):
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise SnapshotError(f"{tar_name}: member {rel!r} needs {part!r} to be a directory, "
                                "but the archive made it a file")
        path.mkdir(mode=0o700, exist_ok=True)


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, tar_name: str, rel: str,
          target: Path) -> None:
    src = tar.extractfile(member)
    if src is None:  # pragma: no cover - regular members always have data
        raise SnapshotError(f"{tar_name}: member {rel!r} has no data")
    try:
        out = open(target, "xb")  # noqa: SIM115 - closed below; "x": never an existing path
    except FileExistsError:
        raise SnapshotError(f"{tar_name}: member {rel!r} appears twice") from None
    except IsADirectoryError:  # pragma: no cover - "x" reports FileExistsError first
        raise SnapshotError(f"{tar_name}: member {rel!r} is also a directory") from None
    with out, src:
        left = member.size
        while left > 0:
            chunk = src.read(min(_CHUNK, left))
            if not chunk:
                raise SnapshotError(f"{tar_name}: member {rel!r} is truncated")
            out.write(chunk)
            left -= len(chunk)
    target.chmod(0o600)


def _root(dest: Path) -> Path:
    """One top-level directory (the usual `host1/...` layout) is the snapshot; files at the
    top level mean the tarball is the snapshot itself. A lone persist/ belongs to the snapshot."""
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "persist":
        return entries[0]
    return dest


@contextmanager
def opened(path: str | Path) -> Iterator[Path]:
    """A snapshot argument as a directory: a directory (or a path that does not exist, for
    read_snapshot to report) as it is; a file as a tarball, extracted into a temporary
    directory that is removed when the block ends."""
    with _extracted(Path(path)) as (_, root):
        yield root


@contextmanager
def _extracted(path: Path) -> Iterator[tuple[Path | None, Path]]:
    """(the extraction directory or None for a directory, the snapshot root)."""
    if not path.is_file():
        yield None, path
        return
    tmp = Path(tempfile.mkdtemp(prefix="nflens-snapshot-"))
    try:
        dest = tmp / stem(path)
        yield dest, extract(path, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_host(path: str | Path) -> Host:
    """The one reader of every `--snapshot` argument: a snapshot directory or tarball -> Host.
    Errors about a file inside a tarball name it as TARBALL/MEMBER, not the temporary path."""
    from nflens.snapshot.read import read_snapshot

    with _extracted(Path(path)) as (dest, root):
        try:
            return read_snapshot(root)
        except NflensError as exc:
            if dest is None:
                raise
            raise _renamed(exc, dest, Path(path)) from None


def _renamed(exc: NflensError, extracted: Path, tarball: Path) -> NflensError:
    tmp, shown = str(extracted), str(tarball)
    if isinstance(exc, ParseError):
        file = exc.file.replace(tmp, shown, 1) if exc.file else exc.file
        return ParseError(exc.message, file, exc.line)
    return type(exc)(str(exc).replace(tmp, shown))
