"""The firewall an apply changes -- one network namespace -- and its lock.

Why per target and not per state directory: the rules live in the kernel, per network namespace;
every tool an apply uses (iptables-restore on either backend, nft, ebtables-restore) changes that
namespace's rules. Two applies with different `--state-dir` on one namespace used to both run,
and the second one's rollback then undid the first's change. So the lock and the marker of an
unconfirmed apply are keyed by the namespace's identity (the nsfs inode of /run/netns/NAME, or of
this process's own namespace), whatever state directory or namespace name reaches it.

They live under /run/nflens/targets (NFLENS_RUN_DIR overrides /run/nflens): /run is emptied at
boot, exactly when the kernel's rules are, so a marker never outlives the change it guards.

    TARGETS/net-DEV-INO.lock      flock'ed by apply, confirm, rollback and the timer
    TARGETS/net-DEV-INO.pending   {"state_dir", "token"} of the unconfirmed apply on it
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nflens.errors import PolicyError
from nflens.policy import state
from nflens.proc import NETNS_DIR

DEFAULT_RUN_DIR = Path("/run/nflens")


@dataclass(frozen=True)
class Target:
    netns: str | None  # None: the namespace this process runs in
    key: str

    def describe(self) -> str:
        return f"network namespace {self.netns!r}" if self.netns else "this host's namespace"


def run_dir() -> Path:
    return Path(os.environ.get("NFLENS_RUN_DIR") or DEFAULT_RUN_DIR) / "targets"


def resolve(netns: str | None) -> Target:
    """The target's identity; a namespace that does not exist is named and refused (nothing
    is changed, nothing is read from somewhere else)."""
    own = os.stat("/proc/self/ns/net")
    if netns is None:
        return Target(None, f"net-{own.st_dev}-{own.st_ino}")
    if "/" in netns or netns in ("", ".", ".."):
        raise PolicyError(f"--netns {netns!r}: a namespace name, as in /run/netns/NAME")
    path = Path(NETNS_DIR) / netns
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PolicyError(f"network namespace {netns!r} does not exist ({path}); nothing was "
                          "changed") from None
    except OSError as exc:
        raise PolicyError(f"network namespace {netns!r}: {path}: {exc.strerror or exc}") from None
    if st.st_dev != own.st_dev:  # not an nsfs inode: a leftover file, not a mounted namespace
        raise PolicyError(f"network namespace {netns!r} does not exist ({path} is not a "
                          "mounted namespace); nothing was changed")
    return Target(netns, f"net-{st.st_dev}-{st.st_ino}")


def _dir() -> Path:
    where = run_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PolicyError(f"cannot use {where}: {exc.strerror or exc}") from None
    return where


@contextmanager
def locked(key: str, wait: float = 0) -> Iterator[None]:
    with state.locked(_dir(), wait, name=f"{key}.lock"):
        yield


def marker(key: str) -> Path:
    return _dir() / f"{key}.pending"


def pending_elsewhere(key: str, root: Path) -> str | None:
    """The state directory of an unconfirmed apply on this target made with another state
    directory (None when there is none, or when its record is gone: a stale marker)."""
    data = state.read_json(marker(key))
    if not data or Path(data.get("state_dir", "")) == root:
        return None
    other = state.read_json(Path(data["state_dir"]) / "pending.json")
    if other is None or other.get("token") != data.get("token"):
        return None
    return data["state_dir"]


def mark(key: str, root: Path, token: str) -> None:
    state.write_json(marker(key), {"state_dir": str(root), "token": token})


def unmark(key: str, token: str) -> None:
    data = state.read_json(marker(key))
    if data is not None and data.get("token") == token:
        state.remove(marker(key))
