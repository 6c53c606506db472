"""Open the files of a snapshot someone else made, without trusting it.

A snapshot is attached to bug reports and sent around, so its files are hostile input. Found
in issue 16: `iptables-save.txt` as a symbolic link to /etc/shadow made `snapshot show` print
the first line of the shadow file in its parse error; a link to /proc/kmsg blocked forever (and
ate kernel log messages); a FIFO blocks the same way. So:

- only *regular* files are read: no symbolic link is followed (`lstat` first, then `open` with
  O_NOFOLLOW, and `fstat` of the opened file must be the same regular file — a link swapped in
  between is caught), no FIFO, socket or device is opened at all;
- only names *inside* the snapshot: relative, no `..`, no NUL, every directory on the way
  opened with O_NOFOLLOW too (a `persist -> /etc` link is not a way out);
- a file larger than MAX_BYTES is refused (a snapshot file is a command's output, not a disk);
- a file with more than one hard link is refused like a symbolic link (issue 29.13): a hard
  link to /etc/shadow is a regular file to `lstat`, but it is not a command's output either —
  nothing that writes a snapshot (collect, redact, extract) makes a second link to a file.

`member_name()` is the same check for the name of a tarball member, so a directory snapshot and
an archived one accept exactly the same paths; `regular_kind()` names what a non-regular
`st_mode` is, for both.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from nflens.errors import SnapshotError

MAX_BYTES = 512 * 1024 * 1024  # `nft -j list ruleset` of a very large host is tens of MiB

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def regular_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ("a symbolic link", "a FIFO", ...)."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def hard_link_kind(nlink: int) -> str:
    """What a regular file with `nlink` links is called in a refusal."""
    return f"a hard link ({nlink} names for one file)"


def member_name(name: str, where: str = "snapshot") -> PurePosixPath:
    """`name` as a path inside a snapshot, or SnapshotError: relative, no `..`, no NUL.

    Also the check for a tarball member's name (an absolute or `..` member would be written or
    read outside the snapshot)."""
    path = PurePosixPath(name)
    if not name or "\0" in name or path.is_absolute() or ".." in path.parts \
            or name.startswith("\\"):
        raise SnapshotError(f"{where}: {name!r} is not a path inside the snapshot (absolute "
                            "paths and `..` are refused)")
    return path


def _refuse(where: str, kind: str) -> SnapshotError:
    return SnapshotError(f"{where}: {kind}, not a regular file: not read (a snapshot holds "
                         "the command outputs themselves; links are never followed)")


def _open_dir(parent: int, part: str, where: str) -> int:
    try:
        return os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                       dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            mode = os.stat(part, dir_fd=parent, follow_symlinks=False).st_mode
            raise _refuse(where, regular_kind(mode) or "not a directory") from None
        raise


def read_bytes(root: str | Path, name: str, limit: int = MAX_BYTES) -> bytes | None:
    """The bytes of the regular file `name` below the directory `root`; None when it does not
    exist. SnapshotError for anything else than a regular file inside `root`, or one too big."""
    rel = member_name(name, str(root))
    where = str(Path(root) / rel)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SnapshotError(f"{root}: cannot open the snapshot: {exc.strerror or exc}") from None
    try:
        for part in rel.parts[:-1]:
            sub = _open_dir(fd, part, where)
            os.close(fd)
            fd = sub
        return _read_regular(fd, rel.parts[-1], where, limit)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise SnapshotError(f"{where}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_regular(parent: int, part: str, where: str, limit: int) -> bytes:
    before = os.stat(part, dir_fd=parent, follow_symlinks=False)
    kind = regular_kind(before.st_mode)
    if kind:  # never open a FIFO or a device: opening alone can block or have effects
        raise _refuse(where, kind)
    try:
        fd = os.open(part, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=parent)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since the lstat
            raise _refuse(where, "a symbolic link") from None
        raise
    try:
        now = os.fstat(fd)
        if regular_kind(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise _refuse(where, regular_kind(now.st_mode) or "a file swapped while opening")
        if now.st_nlink > 1:
            raise _refuse(where, hard_link_kind(now.st_nlink))
        if now.st_size > limit:
            raise SnapshotError(f"{where}: {now.st_size} bytes, more than the {limit} a "
                                "snapshot file may have: not read")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:
                raise SnapshotError(f"{where}: more than {limit} bytes: not read")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(root: str | Path, name: str, limit: int = MAX_BYTES) -> str | None:
    """`read_bytes` decoded as UTF-8; undecodable bytes become U+FFFD (the parsers then name
    the line that is wrong, and printing escapes what is left)."""
    data = read_bytes(root, name, limit)
    return None if data is None else data.decode("utf-8", errors="replace")


def is_dir(root: str | Path, name: str) -> bool:
    """A real directory (not a link to one) at `name` below `root`."""
    try:
        mode = os.stat(Path(root) / member_name(name, str(root)), follow_symlinks=False).st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode)


def walk(root: str | Path, name: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Every regular file below the real directory `name` (relative to `root`), sorted, and
    (path, what it is) of every entry left out: links (hard ones too), FIFOs, devices; link
    directories are not entered."""
    base = Path(root) / member_name(name, str(root))
    files: list[str] = []
    skipped: list[tuple[str, str]] = []

    def visit(d: Path, rel: PurePosixPath) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                visit(d / e.name, rel / e.name)
            elif e.is_file(follow_symlinks=False):
                nlink = e.stat(follow_symlinks=False).st_nlink
                if nlink > 1:
                    skipped.append((str(rel / e.name), hard_link_kind(nlink)))
                else:
                    files.append(str(rel / e.name))
            else:
                mode = e.stat(follow_symlinks=False).st_mode
                skipped.append((str(rel / e.name), regular_kind(mode) or "not a regular file"))

    if is_dir(root, name):
        visit(base, PurePosixPath(name))
    return files, skipped
