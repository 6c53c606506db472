"""The real fail2ban in a lab host (issue 26): Debian's package, fetched like the lab's Docker
versions, its server running in the lab host's network namespace.

Why this way (found by trying on Debian 12):
- fail2ban is pure Python (Debian: arch all, `Depends: python3, python3-systemd`). The private
  apt configuration of lab/versions.py downloads trixie's fail2ban; `dpkg-deb -x` unpacks it
  into /var/cache/nflens-lab/fail2ban/<version>/; nothing is installed and the machine's apt
  sources, lists and dpkg database are never written. python3-systemd is only needed by the
  systemd backend: the lab's jails use `backend = polling` on a log file of their own.
- The server runs with the machine's /usr/bin/python3 and PYTHONPATH on the unpacked tree, in
  the lab host's network namespace (lab.spawn: stopped at teardown), with every path of its
  own under the lab's state folder: `-c` a copy of the package's /etc/fail2ban with the lab's
  jail.local and fail2ban.local, `-s` its socket, `-p` its pid file, its database file
  (bans survive a restart of the jail, as with /var/lib/fail2ban).
  The machine's /etc/fail2ban and /var/run are never read or written.
- Its actions run `iptables` (the machine's) in that namespace, exactly as on a real host;
  `fail2ban-client set JAIL banip ADDR` bans through the server's socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from nflens.errors import ToolError
from nflens.lab import versions
from nflens.lab.netns import Lab
from nflens.proc import LOCAL, ProcessRunner

TESTED = "1.1.0-8"  # trixie's
CACHE = versions.CACHE / "fail2ban"
PYTHON = "/usr/bin/python3"


def tree(version: str = TESTED) -> Path:
    return CACHE / version


def provide(runner: ProcessRunner = LOCAL, log=print) -> Path:
    """The unpacked package, fetched first when the cache lacks it (VersionMissing names why
    it cannot be)."""
    target = tree()
    if (target / "usr/bin/fail2ban-server").exists():
        return target
    with versions._locked():
        if (target / "usr/bin/fail2ban-server").exists():
            return target
        if os.geteuid() != 0:
            raise versions.VersionMissing(f"fail2ban {TESTED} is not in {target} and only "
                                          "root can fetch it")
        apt = versions.PrivateApt(versions.CACHE / "apt", runner)
        apt.update(log)
        if TESTED not in apt.versions("fail2ban"):
            raise versions.VersionMissing(f"fail2ban {TESTED} is not offered by "
                                          f"{'/'.join(versions.SUITES)}")
        deb = apt.download("fail2ban", TESTED)
        tmp = target.parent / f".{TESTED}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        versions._run(runner, ["dpkg-deb", "-x", str(deb), str(tmp)], f"unpack {deb.name}")
        deb.unlink()
        tmp.rename(target)
        log(f"fail2ban {TESTED}: unpacked into {target}")
    return target


FAIL2BAN_LOCAL = """[Definition]
loglevel = INFO
logtarget = {log}
socket = {sock}
pidfile = {pid}
dbfile = {db}
"""


class Fail2ban:
    """fail2ban-server in namespace `ns` of `lab`, configured under `root` (a lab folder)."""

    def __init__(self, lab: Lab, ns: str, root: Path, jail_local: str,
                 runner: ProcessRunner | None = None):
        self.lab, self.ns, self.root = lab, ns, root
        self.runner = runner or lab.runner
        self.install = provide(self.runner)
        self.conf = root / "etc-fail2ban"
        self.sock, self.pid, self.log = root / "f2b.sock", root / "f2b.pid", root / "f2b.log"
        lab.add_dir(root)
        shutil.copytree(self.install / "etc/fail2ban", self.conf, dirs_exist_ok=True)
        (self.conf / "fail2ban.local").write_text(FAIL2BAN_LOCAL.format(
            log=self.log, sock=self.sock, pid=self.pid, db=root / "fail2ban.sqlite3"))
        self.write_jail_local(jail_local)

    def write_jail_local(self, text: str) -> None:
        (self.conf / "jail.local").write_text(text)

    def _env(self) -> list[str]:
        return ["env", f"PYTHONPATH={self.install / 'usr/lib/python3/dist-packages'}", PYTHON]

    def start(self, timeout: float = 30) -> None:
        argv = self._env() + [str(self.install / "usr/bin/fail2ban-server"), "-f", "-x",
                              "-c", str(self.conf), "-s", str(self.sock), "-p", str(self.pid)]
        self.lab.spawn(self.ns, argv, log=self.root / "server.out", graceful=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ToolError):
                if "pong" in self.client("ping"):
                    return
            time.sleep(0.3)
        raise ToolError(f"fail2ban-server did not answer on {self.sock}: "
                        f"{self._tail()}")

    def client(self, *args: str, timeout: float = 30) -> str:
        argv = self._env() + [str(self.install / "usr/bin/fail2ban-client"), "-c",
                              str(self.conf), "-s", str(self.sock), *args]
        proc = self.runner.run(argv, timeout=timeout)
        if proc.returncode != 0 or proc.error is not None:
            raise ToolError(f"fail2ban-client {' '.join(args)}: exit {proc.returncode}: "
                            f"{(proc.stderr or proc.stdout or str(proc.error)).strip()[-300:]}")
        return proc.stdout

    def _tail(self) -> str:
        for path in (self.root / "server.out", self.log):
            if path.exists():
                return " | ".join(path.read_text(errors="replace").splitlines()[-5:])
        return "no log"

    def stop(self) -> None:
        with contextlib.suppress(ToolError):
            self.client("stop")
