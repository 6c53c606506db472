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
- CrowdSec's crowdsec-firewall-bouncer (Debian trixie 0.0.25, a Go binary) is fetched the
  same way and runs in the host's namespace, in iptables or nftables mode, against the real
  local API of Debian's crowdsec 1.4.6 run offline (lab/crowdsec.py), or, where that package
  cannot be fetched, a stand-in LAPI (lab/lapi.py) holding the same decisions. Stopped with
  SIGTERM, as systemd does, it removes its rules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

from nflens.errors import ToolError
from nflens.lab import versions
from nflens.lab.netns import Lab
from nflens.proc import LOCAL, Process, ProcessRunner

TESTED = "1.1.0-8"  # trixie's
PYTHON = "/usr/bin/python3"


BOUNCER = ("crowdsec-firewall-bouncer", "0.0.25-5+b11", "usr/bin/crowdsec-firewall-bouncer")
FAIL2BAN = ("fail2ban", TESTED, "usr/bin/fail2ban-server")


def tree(version: str = TESTED, package: str = "fail2ban") -> Path:
    return versions.CACHE / package / version


def provide(runner: ProcessRunner = LOCAL, log=print,
            package: tuple[str, str, str] = FAIL2BAN) -> Path:
    """The unpacked package (fail2ban, or BOUNCER), fetched first when the cache lacks it
    (VersionMissing names why it cannot be)."""
    name, version, probe = package
    target = tree(version, name)
    if (target / probe).exists():
        return target
    with versions._locked():
        if (target / probe).exists():
            return target
        if os.geteuid() != 0:
            raise versions.VersionMissing(f"{name} {version} is not in {target} and only "
                                          "root can fetch it")
        apt = versions.PrivateApt(versions.CACHE / "apt", runner)
        apt.update(log)
        if version not in apt.versions(name):
            raise versions.VersionMissing(f"{name} {version} is not offered by "
                                          f"{'/'.join(versions.SUITES)}")
        deb = apt.download(name, version)
        tmp = target.parent / f".{version}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        versions._run(runner, ["dpkg-deb", "-x", str(deb), str(tmp)], f"unpack {deb.name}")
        deb.unlink()
        tmp.rename(target)
        log(f"{name} {version}: unpacked into {target}")
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


BOUNCER_YAML = """mode: {mode}
pid_dir: {root}/
update_frequency: 1s
daemonize: true
log_mode: file
log_dir: {root}/
log_level: info
api_url: http://127.0.0.1:{port}/
api_key: lab-not-secret
disable_ipv6: true
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
blacklists_ipv4: crowdsec-blacklists
blacklists_ipv6: crowdsec6-blacklists
ipset_type: nethash
iptables_chains: [{chains}]
nftables:
  ipv4:
    enabled: true
    set-only: {set_only}
    table: crowdsec
    chain: crowdsec-chain
  ipv6:
    enabled: false
prometheus:
  enabled: false
"""
# `daemonize: true` as in Debian's file: 0.0.25 only handles SIGTERM (removing its rules) when
# it is set (main.go: `go HandleSignals` under `if config.Daemon`; it does not fork, it tells
# systemd READY=1). `nftables.ipv6.enabled` is given: with `disable_ipv6: true` and no ipv6
# `enabled`, 0.0.25's nftablesConfig (config.go) disables *IPv4* and then dereferences the
# unset IPv6 pointer.


def _wait_for(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise ToolError(f"no {text!r} in {log} after {timeout} s")


class Bouncer:
    """Debian's crowdsec-firewall-bouncer in namespace `ns`, fed `banned` by a LAPI on
    127.0.0.1:`port` of the same namespace (the stand-in lab/lapi.py unless `lapi` is False:
    then the caller runs one there, the real crowdsec); its YAML under `root`."""

    def __init__(self, lab: Lab, ns: str, root: Path, banned: list[str], port: int = 8081,
                 lapi: bool = True):
        self.lab, self.ns, self.root, self.banned, self.port = lab, ns, root, banned, port
        self.install = provide(lab.runner, package=BOUNCER)
        self.config = root / "crowdsec-firewall-bouncer.yaml"
        self.log = root / "crowdsec-firewall-bouncer.log"
        self.lapi = lapi
        self.proc: Process | None = None
        lab.add_dir(root)

    def start(self, chains: list[str], timeout: float = 20, mode: str = "iptables",
              set_only: bool = False) -> None:
        """Start it with this configuration (a running one is stopped first, as a restart of
        its service) and wait until it applied a decision."""
        self.stop()
        self.config.write_text(BOUNCER_YAML.format(
            root=self.root, port=self.port, chains=", ".join(chains), mode=mode,
            set_only="true" if set_only else "false"))
        if self.lapi:
            self.lab.spawn(self.ns, [sys.executable, "-m", "nflens.lab.lapi", str(self.port),
                                     *self.banned], log=self.root / "lapi.log")
            self.lapi = False  # one stand-in serves every start
            _wait_for(self.root / "lapi.log", "listening", timeout)
        seen = self.log.read_text(errors="replace").count("decision added") \
            if self.log.exists() else 0
        proc = self.lab.spawn(self.ns, [str(self.install / BOUNCER[2]), "-c", str(self.config)],
                              log=self.root / "bouncer.out", graceful=True)
        self.proc = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and \
                    self.log.read_text(errors="replace").count("decision added") > seen:
                return
            if proc.poll() is not None:
                break
            time.sleep(0.3)
        raise ToolError(f"the bouncer applied no decision: {self._tail()}")

    def stop(self) -> None:
        """SIGTERM, as systemd stops it: it removes its rules (its table, unless set-only:
        then it flushes the set)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None

    def _tail(self) -> str:
        for path in (self.log, self.root / "bouncer.out", self.root / "lapi.log"):
            if path.exists():
                return " | ".join(path.read_text(errors="replace").splitlines()[-4:])
        return "no log"
