"""The one seam through which nflens runs processes (httpx's transport is the model).

Every module that starts a program -- snapshot collection, `policy apply/rollback`, the nft text
reader's scratch namespace, the lab -- takes a `ProcessRunner`. `LocalRunner` (the default,
`LOCAL`) runs the real program; `FakeRunner` records every call and answers from a script, so
the logic around the tools (what is backed up, what is undone after a failure or a signal) is
tested without root, and the lab tests stay the proof against the real tools.

A program that cannot be run at all is not an exception here but a `Completed` with
`error` set and the shell's exit codes (127 not found, 124 timed out, 126 not executable):
collection records it as a missing file, while apply and the nft reader turn it into a
ToolError. Callers that want an exception use `Completed.check()`; `Completed.timed_out` tells
the seam's own timeout (124 with `error`) from a program that itself exited 124 (GNU timeout).

A spawned program is a `Process` (a Protocol): `LocalRunner` hands out `Running`, a Popen whose
`wait(timeout)` raises the builtin TimeoutError rather than subprocess's, so no module but this
one needs `subprocess` (tests/test_architecture.py holds every other module to that).
"""

from __future__ import annotations

import signal
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

    @property
    def timed_out(self) -> bool:
        """Killed by the runner at its timeout (not a program that chose to exit 124)."""
        return self.returncode == 124 and self.error is not None

    def detail(self, limit: int = 500) -> str:
        """The first words of what the program said, for an error message."""
        text = self.error or self.stderr or self.stdout or f"exit {self.returncode}"
        return " ".join(text.split())[:limit]

    def check(self, what: str | None = None) -> Completed:
        if not self.ok:
            raise ToolError(f"{what or ' '.join(self.argv)} failed: {self.detail()}")
        return self


class Process(Protocol):
    """A started program, as `spawn` returns it: a pid to record, poll/wait, signals.
    `wait(timeout)` raises TimeoutError when the program still runs after `timeout` seconds."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class ProcessRunner(Protocol):
    """Runs a program to completion, or starts a long-lived one."""

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = TIMEOUT, cwd: str | None = None) -> Completed: ...

    def spawn(self, argv: Sequence[str], *, stdout: IO[Any] | int | None = None,
              env: dict[str, str] | None = None, pass_fds: Sequence[int] = (),
              new_session: bool = True) -> Process:
        """Start `argv` without waiting (stdin closed, stderr into `stdout`)."""
        ...


class Running:
    """LocalRunner's Process: a Popen, with subprocess.TimeoutExpired translated at the seam."""

    def __init__(self, popen: subprocess.Popen[bytes]):
        self._popen = popen

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{self._popen.args!r} still runs after {timeout:g}s") from exc

    def send_signal(self, sig: int) -> None:
        self._popen.send_signal(sig)

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()


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
              new_session: bool = True) -> Running:
        try:
            return Running(subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if stdout is None else stdout,
                stderr=subprocess.STDOUT, env=env, pass_fds=tuple(pass_fds),
                start_new_session=new_session, close_fds=True))
        except OSError as exc:
            raise ToolError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc


LOCAL = LocalRunner()


@dataclass(frozen=True)
class Call:
    """One recorded call: the full argv, what went to stdin, whether it was a spawn, and the
    working directory and timeout a run asked for."""

    argv: tuple[str, ...]
    stdin: str | None = None
    spawned: bool = False
    cwd: str | None = None
    timeout: float | None = None

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
    """FakeRunner's Process: runs until signalled (then "exits" -SIG) or waited for (exit 0);
    the signals sent are recorded."""

    pid: int
    argv: tuple[str, ...]
    returncode: int | None = None
    signals: list[int] = field(default_factory=list)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = 0
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if self.returncode is None:
            self.returncode = -sig

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


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
        call = Call(tuple(argv), stdin, cwd=cwd, timeout=timeout)
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
