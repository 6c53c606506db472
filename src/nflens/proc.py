"""The one seam through which nflens runs processes (httpx's transport is the model).

Every module that starts a program -- snapshot collection, `policy apply/rollback`, the nft text
reader's scratch namespace, the lab -- takes a `ProcessRunner`. `LocalRunner` (the default,
`LOCAL`) runs the real program; `FakeRunner` records every call and answers from a script, so
the logic around the tools (what is backed up, what is undone after a failure or a signal) is
tested without root, and the lab tests stay the proof against the real tools.

A program that cannot be run at all is not an exception here but a `Completed` with
`error` set and the shell's exit codes (127 not found, 124 timed out, 126 not executable):
collection records it as a missing file, while apply and the nft reader turn it into a
ToolError. Callers that want an exception use `Completed.check()`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from nflens.errors import ToolError

NETNS_DIR = "/run/netns"
TIMEOUT = 60.0


def nsenter(netns: str | None, argv: Sequence[str]) -> list[str]:
    """`argv` run inside network namespace /run/netns/NETNS (unchanged for None).

    nsenter rather than `ip netns exec`: the latter remounts /sys, which hides the cgroup mounts
    dockerd needs in the lab; nsenter execs the program in the same process (its pid is the
    program's)."""
    if netns is None:
        return list(argv)
    # An absolute path (a container's /proc/PID/ns/net, lab/udp.py) is entered as it is.
    path = netns if netns.startswith("/") else f"{NETNS_DIR}/{netns}"
    return ["nsenter", f"--net={path}", "--", *argv]


def starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: with the pid it names a process even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[19])


def cmdline(pid: int) -> list[str]:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        return []


@dataclass(frozen=True)
class Completed:
    """What a finished program left: exit code and both outputs (text)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # set when the program could not be run at all

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def detail(self, limit: int = 500) -> str:
        """The first words of what the program said, for an error message."""
        text = self.error or self.stderr or self.stdout or f"exit {self.returncode}"
        return " ".join(text.split())[:limit]

    def check(self, what: str | None = None) -> Completed:
        if not self.ok:
            raise ToolError(f"{what or ' '.join(self.argv)} failed: {self.detail()}")
        return self


class ProcessRunner(Protocol):
    """Runs a program to completion, or starts a long-lived one."""

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = TIMEOUT, cwd: str | None = None) -> Completed: ...

    def spawn(self, argv: Sequence[str], *, stdout: IO[Any] | int | None = None,
              env: dict[str, str] | None = None, pass_fds: Sequence[int] = (),
              new_session: bool = True) -> Any:
        """Start `argv` without waiting; returns an object with `.pid` (a Popen for real)."""
        ...


class LocalRunner:
    """The real thing: subprocess, text mode, stdin closed unless given."""

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = TIMEOUT, cwd: str | None = None) -> Completed:
        args = tuple(argv)
        try:
            proc = subprocess.run(args, input=stdin, capture_output=True, text=True,
                                  timeout=timeout, cwd=cwd,
                                  stdin=subprocess.DEVNULL if stdin is None else None)
        except FileNotFoundError:
            return Completed(args, 127, error=f"{args[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Completed(args, 124, error=f"{args[0]}: timed out after {timeout:g}s")
        except OSError as exc:
            return Completed(args, 126, error=f"{args[0]}: {exc.strerror or exc}")
        return Completed(args, proc.returncode, proc.stdout, proc.stderr)

    def spawn(self, argv: Sequence[str], *, stdout: IO[Any] | int | None = None,
              env: dict[str, str] | None = None, pass_fds: Sequence[int] = (),
              new_session: bool = True) -> subprocess.Popen:
        try:
            return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL if stdout is None else stdout,
                                    stderr=subprocess.STDOUT, env=env, pass_fds=tuple(pass_fds),
                                    start_new_session=new_session, close_fds=True)
        except OSError as exc:
            raise ToolError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc


LOCAL = LocalRunner()


@dataclass(frozen=True)
class Call:
    """One recorded call: the full argv, what went to stdin, and whether it was a spawn."""

    argv: tuple[str, ...]
    stdin: str | None = None
    spawned: bool = False

    @property
    def netns(self) -> str | None:
        if len(self.argv) > 1 and self.argv[0] == "nsenter" and self.argv[1].startswith("--net="):
            return self.argv[1].rsplit("/", 1)[-1]
        return None

    @property
    def tool(self) -> tuple[str, ...]:
        """The argv without an nsenter prefix: what the fake's script usually matches on."""
        if self.netns is not None and "--" in self.argv:
            return self.argv[self.argv.index("--") + 1:]
        return self.argv


Answer = Completed | tuple[int, str, str] | str | None
Script = Callable[[Call], Answer]


@dataclass
class Spawned:
    pid: int
    argv: tuple[str, ...]

    def poll(self) -> int | None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        return 0


@dataclass
class FakeRunner:
    """Records every call and answers from `script(call)`: a Completed, `(rc, out, err)`, a
    string (stdout, exit 0) or None (exit 0, no output). A script may also raise -- or send a
    signal to this process -- to stand for a crash at exactly that call."""

    script: Script = field(default=lambda call: None)
    calls: list[Call] = field(default_factory=list)
    next_pid: int = 4_000_000  # above pid_max's default: never a real process

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = TIMEOUT, cwd: str | None = None) -> Completed:
        call = Call(tuple(argv), stdin)
        self.calls.append(call)
        return _completed(call, self.script(call))

    def spawn(self, argv: Sequence[str], *, stdout: IO[Any] | int | None = None,
              env: dict[str, str] | None = None, pass_fds: Sequence[int] = (),
              new_session: bool = True) -> Spawned:
        call = Call(tuple(argv), None, spawned=True)
        self.calls.append(call)
        self.script(call)
        self.next_pid += 1
        return Spawned(self.next_pid, call.argv)

    def tools(self) -> list[tuple[str, ...]]:
        """The recorded argvs without nsenter prefixes, in order."""
        return [c.tool for c in self.calls]


def _completed(call: Call, answer: Answer) -> Completed:
    if isinstance(answer, Completed):
        return answer
    if isinstance(answer, tuple):
        rc, out, err = answer
        return Completed(call.argv, rc, out, err)
    return Completed(call.argv, 0, answer or "")
