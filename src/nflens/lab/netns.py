"""Isolated hosts made of network namespaces, and a registry that tears all of them down.

Why a registry with a state file: a lab run starts things that outlive a crashed Python process
(dockerd is started in its own session so `--keep` works; containerd, its shims and docker-proxy
are dockerd's children; containers sit in their own cgroup). Everything a run creates is recorded
*before* it is created in `/run/nflens-lab/<id>/state.json`, so `teardown()` — on normal exit, on
an exception, on SIGINT/SIGTERM — and `cleanup_stale()` — after a SIGKILL — can find and remove it.

Names: every namespace is `nfl-<id>-<role>` where `<id>` is 6 random hex digits, so parallel runs
and leftovers never collide, and `cleanup_stale()` only ever touches names of that shape.

Root namespace safety: nothing here touches the root namespace's interfaces, routes or rules.
A veth pair is created by a netlink socket that lives *inside* the first namespace (pyroute2
`NetNS`), with its peer placed directly in the second one (`IFLA_NET_NS_FD`); sysctls and every
command run under `nsenter --net=/run/netns/NAME` (not `ip netns exec`, which remounts /sys and
so hides the cgroup mounts dockerd needs).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from nflens.errors import ToolError
from nflens.proc import LOCAL, Completed, Process, ProcessRunner, starttime
from nflens.proc import nsenter as proc_nsenter

PREFIX = "nfl-"
# what signal.signal returns and takes: a handler, SIG_DFL / SIG_IGN, or None (not from Python)
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
STATE_ROOT = Path("/run/nflens-lab")
DATA_ROOT = Path("/var/lib/nflens-lab")
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
IFA_F_NODAD = 0x02  # linux/if_addr.h


class LabInterrupted(BaseException):
    """SIGINT/SIGTERM during a run: unwinds through `with Lab()` so teardown runs."""


_starttime = starttime  # pid + start time name a process even after pid reuse


def alive(pid: int, starttime: int | None = None) -> bool:
    """Running (not a zombie). Processes of a kept run are reparented to PID 1 when its owner
    exits; a PID 1 that does not reap leaves zombies, which hold no namespace, mount or port."""
    now = _starttime(pid)
    return now is not None and (starttime is None or now == starttime) and not _zombie(pid)


@dataclass
class ProcRecord:
    pid: int
    starttime: int | None
    argv: list[str]
    graceful: bool = False  # SIGTERM first and wait (dockerd stops its containers)


@dataclass
class LabState:
    """What a run created; serialised to state.json before each thing is made."""

    id: str
    owner_pid: int
    owner_start: int | None
    netns: list[str] = field(default_factory=list)
    procs: list[ProcRecord] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    mount_roots: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    keep: bool = False

    @classmethod
    def load(cls, path: Path) -> LabState:
        data = json.loads(path.read_text())
        data["procs"] = [ProcRecord(**p) for p in data.get("procs", [])]
        return cls(**data)


def nsenter(ns: str, argv: list[str], mount: Path | None = None) -> list[str]:
    """`mount`: a persistent mount namespace (lab/mountns.py) to enter as well."""
    cmd = proc_nsenter(ns, argv)
    if mount:
        cmd.insert(1, f"--mount={mount}")
    return cmd


def run_in(ns: str, argv: list[str], timeout: float = 30, check: bool = True,
           runner: ProcessRunner = LOCAL, mount: Path | None = None,
           stdin: str | None = None) -> Completed:
    """Run a short command in namespace `ns`; a failure becomes a ToolError with its stderr."""
    proc = runner.run(nsenter(ns, argv, mount), timeout=timeout, stdin=stdin)
    if proc.timed_out:
        raise ToolError(f"{' '.join(argv)} in {ns}: timed out after {timeout}s")
    if check and proc.returncode != 0:
        raise ToolError(f"{' '.join(argv)} in {ns}: exit {proc.returncode}: "
                        f"{proc.stderr.strip()[:500]}")
    return proc


class Lab:
    """One lab run: create namespaces, links and processes; `teardown()` removes them all.

    Use as a context manager. While inside, SIGINT and SIGTERM raise `LabInterrupted` (from the
    main thread only, where Python delivers signals) so the `with` block unwinds and tears down.
    """

    def __init__(self, run_id: str | None = None, keep: bool = False,
                 runner: ProcessRunner = LOCAL):
        """`runner`: what starts the lab's programs (the modules built on a Lab use it too)."""
        self.id = run_id or secrets.token_hex(3)
        self.runner = runner
        self.state_dir = STATE_ROOT / self.id
        self.data_dir = DATA_ROOT / self.id
        self.state = LabState(self.id, os.getpid(), _starttime(os.getpid()), keep=keep)
        self._old_handlers: dict[int, _Handler] = {}
        self._torn_down = False

    # -- registry ---------------------------------------------------------------------------
    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self.state), indent=1))
        tmp.replace(self.state_dir / "state.json")

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.id}-{role}"

    def add_dir(self, path: Path, mounts: bool = False) -> Path:
        """Register a directory (removed at teardown; with `mounts`, every mount under it too)."""
        if str(path) not in self.state.dirs:
            self.state.dirs.append(str(path))
        if mounts and str(path) not in self.state.mount_roots:
            self.state.mount_roots.append(str(path))
        self.save()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_cgroup(self, name: str) -> str:
        self.state.cgroups.append(name)
        self.save()
        return name

    def add_netns(self, role: str) -> str:
        """Create namespace nfl-<id>-<role> with its loopback up."""
        from pyroute2 import NetNS, netns

        name = self.ns(role)
        self.state.netns.append(name)
        self.save()
        netns.create(name)
        with NetNS(name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return name

    def add_veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        """A veth pair made inside `ns_a` with its peer born in `ns_b`: never in the root ns."""
        from pyroute2 import NetNS

        with NetNS(ns_a) as ipr:
            ipr.link("add", ifname=if_a, kind="veth", peer={"ifname": if_b, "net_ns_fd": ns_b})
            ipr.link("set", index=ipr.link_lookup(ifname=if_a)[0], state="up")
        with NetNS(ns_b) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=if_b)[0], state="up")

    def add_addr(self, ns: str, ifname: str, cidr: str) -> None:
        from pyroute2 import NetNS

        addr, plen = cidr.split("/")
        with NetNS(ns) as ipr:
            idx = ipr.link_lookup(ifname=ifname)[0]
            kwargs = {"flags": IFA_F_NODAD} if ":" in addr else {}  # usable at once, no DAD wait
            ipr.addr("add", index=idx, address=addr, prefixlen=int(plen), **kwargs)

    def add_route(self, ns: str, dst: str, gateway: str) -> None:
        from pyroute2 import NetNS

        with NetNS(ns) as ipr:
            family = 10 if ":" in gateway else 2
            ipr.route("add", dst=dst, gateway=gateway, family=family)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        """Per-namespace sysctls (net.ipv4.ip_forward, net.ipv6.conf.*) are written from inside."""
        run_in(ns, ["sysctl", "-q", "-w", f"{key}={value}"], runner=self.runner)

    def spawn(self, ns: str, argv: list[str], log: Path | None = None, graceful: bool = False,
              mount: Path | None = None) -> Process:
        """Start a long-lived process in `ns` (and mount namespace `mount`, when given) in its
        own session (so it survives --keep)."""
        out = open(log, "ab") if log else None  # noqa: SIM115 (optional; closed in finally)
        try:
            proc = self.runner.spawn(nsenter(ns, argv, mount), stdout=out)
        finally:
            if out is not None:
                out.close()
        # nsenter execs the target in the same process, so this pid is the program itself.
        self.state.procs.append(ProcRecord(proc.pid, _starttime(proc.pid), argv, graceful))
        self.save()
        return proc

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.save()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum, frame):
        """pyroute2's NetNS forks helper children and ends them with SIGTERM; a child inherits
        this handler and the whole stack, `with Lab()` included. Only the owner may unwind into
        a teardown — a child just dies, as with the default action."""
        if os.getpid() != self.state.owner_pid:
            os._exit(128 + signum)
        raise LabInterrupted(f"signal {signum}")

    def __exit__(self, exc_type, exc, tb) -> None:
        if os.getpid() != self.state.owner_pid:
            return  # a forked child leaving the block must not tear the lab down
        try:
            if not self.state.keep or exc_type is not None:
                self.teardown()
        finally:
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)

    def teardown(self) -> list[str]:
        """Remove everything this run made; returns what could not be removed (empty = clean)."""
        if self._torn_down or os.getpid() != self.state.owner_pid:
            return []
        self._torn_down = True
        # Ignore further SIGINT/SIGTERM while tearing down: a second Ctrl-C must not leave half.
        with _signals_blocked():
            return teardown_state(self.state)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# -- teardown, shared by Lab.teardown and cleanup_stale ------------------------------------------

def _ns_inode(name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(NETNS_DIR / name)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _pids_in_netns(inodes: set[tuple[int, int]]) -> set[int]:
    """Processes whose network namespace is one of ours (dockerd, containerd, shims, proxies)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            st = os.stat(entry / "ns" / "net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in inodes:
            found.add(int(entry.name))
    return found


def _cgroup_dirs(name: str) -> list[Path]:
    """Every directory of cgroup `name` (dockerd's --cgroup-parent) in every v1/v2 hierarchy."""
    dirs: list[Path] = []
    if not CGROUP_ROOT.is_dir():
        return dirs
    for hierarchy in CGROUP_ROOT.iterdir():
        base = hierarchy / name
        if base.is_dir():
            dirs.extend(sorted((p for p in base.rglob("*") if p.is_dir()),
                               key=lambda p: -len(p.parts)))
            dirs.append(base)
    return dirs


def _pids_in_cgroups(names: list[str]) -> set[int]:
    pids: set[int] = set()
    for name in names:
        for d in _cgroup_dirs(name):
            with contextlib.suppress(OSError):
                pids.update(int(x) for x in (d / "cgroup.procs").read_text().split())
    return pids


def _kill(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        _reap(left)
        left = {p for p in left if alive(p) and not _zombie(p)}
    return left


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _reap(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _stop_processes(state: LabState) -> set[int]:
    """Containers, then dockerd, then everything else.

    Container processes (found by cgroup) get SIGKILL first: busybox httpd as PID 1 of a
    container has no SIGTERM handler, and the kernel ignores unhandled signals for a PID 1, so
    dockerd's own shutdown would wait its 10 s stop timeout per container. dockerd then gets
    SIGTERM so it can unmount and clean its state; everything still alive afterwards (in our
    namespaces, our cgroups or recorded by pid) gets SIGKILL.
    """
    containers = _pids_in_cgroups(state.cgroups)
    _kill(containers, signal.SIGKILL)
    _wait_gone(containers, 5)
    graceful = {p.pid for p in state.procs if p.graceful and alive(p.pid, p.starttime)}
    _kill(graceful, signal.SIGTERM)
    _wait_gone(graceful, 15)
    inodes = {i for i in map(_ns_inode, state.netns) if i}
    for _ in range(5):
        victims = {p.pid for p in state.procs if alive(p.pid, p.starttime)}
        victims |= _pids_in_netns(inodes) | _pids_in_cgroups(state.cgroups)
        victims.discard(os.getpid())
        if not victims:
            return set()
        _kill(victims, signal.SIGKILL)
        _wait_gone(victims, 5)
    return {p for p in victims if alive(p)}


def _mounts_under(roots: list[str]) -> list[str]:
    """Mount points at or under any root, deepest first (from /proc/self/mountinfo)."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if any(point == r or point.startswith(r.rstrip("/") + "/") for r in roots):
                found.append(point)
    return sorted(set(found), key=lambda p: -p.count("/"))


def _unmount(roots: list[str]) -> list[str]:
    for _ in range(3):
        points = _mounts_under(roots)
        if not points:
            return []
        for point in points:
            LOCAL.run(["umount", "-l", point])
    return _mounts_under(roots)


def teardown_state(state: LabState) -> list[str]:
    """Stop processes, unmount, remove cgroups, namespaces and directories; report leftovers."""
    problems = [f"process {p} survives SIGKILL" for p in sorted(_stop_processes(state))]
    problems += [f"mount {m} stays" for m in _unmount(list(state.mount_roots))]
    for name in state.cgroups:
        for d in _cgroup_dirs(name):
            with contextlib.suppress(OSError):
                d.rmdir()
    problems += _remove_netns(state.netns)
    for dirname in sorted(state.dirs, key=lambda p: -p.count("/")):
        if _mounts_under([dirname]):
            problems.append(f"{dirname} still has mounts; left in place")
            continue
        shutil.rmtree(dirname, ignore_errors=True)
    state_dir = STATE_ROOT / state.id
    if not _mounts_under([str(state_dir)]):
        shutil.rmtree(state_dir, ignore_errors=True)
    return problems


def _remove_netns(names: list[str]) -> list[str]:
    from pyroute2 import netns

    problems = []
    for name in names:
        if not (NETNS_DIR / name).exists():
            continue
        try:
            netns.remove(name)
        except OSError as exc:
            problems.append(f"namespace {name}: {exc}")
    return problems


def cleanup_stale() -> list[str]:
    """Remove what killed runs left behind; returns the ids cleaned.

    A run is stale when its state file's owner process is gone (pid + start time), unless it was
    kept on purpose (`--keep`; `nflens lab down ID` removes those). Namespaces named `nfl-<id>-*`
    and data dirs with no state file at all (a run killed between its first steps) go too.
    """
    cleaned = []
    known = set()
    if STATE_ROOT.is_dir():
        for sdir in STATE_ROOT.iterdir():
            state = _load_state(sdir)
            if state is None:
                continue
            known.add(state.id)
            if state.keep or alive(state.owner_pid, state.owner_start):
                continue
            teardown_state(state)
            cleaned.append(state.id)
    for run_id in _orphan_ids() - known:
        teardown_state(orphan_state(run_id))
        cleaned.append(run_id)
    return cleaned


def _load_state(sdir: Path) -> LabState | None:
    try:
        return LabState.load(sdir / "state.json")
    except (OSError, ValueError, TypeError):
        return None


def _orphan_ids() -> set[str]:
    """Run ids seen in /run/netns/nfl-<id>-*, /var/lib/nflens-lab/<id> or /run/nflens-lab/<id>."""
    ids = set()
    if NETNS_DIR.is_dir():
        for p in NETNS_DIR.iterdir():
            parts = p.name.split("-")
            if p.name.startswith(PREFIX) and len(parts) >= 3 and _is_id(parts[1]):
                ids.add(parts[1])
    for root in (DATA_ROOT, STATE_ROOT):
        if root.is_dir():
            ids.update(p.name for p in root.iterdir() if _is_id(p.name)
                       and _load_state(p) is None)
    return ids


def _is_id(text: str) -> bool:
    return len(text) == 6 and all(c in "0123456789abcdef" for c in text)


def orphan_state(run_id: str) -> LabState:
    """A reconstructed state for a run whose state file is gone: by naming convention only."""
    ns = sorted(p.name for p in NETNS_DIR.glob(f"{PREFIX}{run_id}-*")) if NETNS_DIR.is_dir() else []
    dirs = [str(DATA_ROOT / run_id), str(STATE_ROOT / run_id)]
    return LabState(run_id, 0, None, netns=ns, dirs=dirs, mount_roots=dirs,
                    cgroups=[f"{PREFIX}{run_id}"])


def list_runs() -> list[LabState]:
    if not STATE_ROOT.is_dir():
        return []
    return [s for s in map(_load_state, sorted(STATE_ROOT.iterdir())) if s is not None]


def down(run_id: str) -> list[str]:
    """Tear down one run by id (a `--keep` run, or one still owned by a live process)."""
    state = _load_state(STATE_ROOT / run_id) or orphan_state(run_id)
    return teardown_state(state)


def leftovers(run_id: str | None = None) -> list[str]:
    """Everything with our prefix that still exists (namespaces, processes, mounts, cgroups)."""
    tag = f"{PREFIX}{run_id}-" if run_id else PREFIX
    out = [f"netns {p.name}" for p in (NETNS_DIR.glob(f"{tag}*") if NETNS_DIR.is_dir() else [])]
    roots = [str(DATA_ROOT / run_id), str(STATE_ROOT / run_id)] if run_id else \
        [str(DATA_ROOT), str(STATE_ROOT)]
    out += [f"mount {m}" for m in _mounts_under(roots) if m not in roots]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if any(r + "/" in cmd or cmd.rstrip().endswith(r) for r in roots):
                    out.append(f"process {entry.name}: {cmd[:120]}")
    if run_id:
        out += [f"cgroup {d}" for d in _cgroup_dirs(f"{PREFIX}{run_id}")]
    return out
