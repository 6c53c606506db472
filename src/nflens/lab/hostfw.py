"""The real ufw or the real firewalld as a lab host's firewall, in the host's own mount namespace.

Neither may ever run in the machine's root namespace or see the machine's /etc: each lab host
gets a private mount namespace (lab/mountns.py) with copies of the manager's configuration, and
every host command — the manager's own commands, dockerd, the scenario's setup lines — runs in
it and in the host's network namespace.

ufw (Debian 0.36): no daemon. `ufw --force enable` loads /etc/ufw/*.rules with iptables-restore
into the namespace and writes ENABLED=yes into the private ufw.conf; later `ufw allow ...`
edits the private user.rules and reloads. ufw's sysctls (/etc/ufw/sysctl.conf) are the
namespace's own (net.* is per network namespace).

firewalld (Debian 1.3, nftables backend) needs a system D-Bus: its own `dbus-daemon --system
--nofork` on the private /run/dbus (not --fork: Lab.spawn records the daemon's own pid before it
runs, so nothing depends on a pid file), then `firewalld --nofork --nopid --log-target console`
(no pid file, no /var/log/firewalld). polkitd is D-Bus-activated by that bus when firewall-cmd
first asks; it lives in the host's namespaces, so teardown finds it there. dockerd starts
*after* firewalld in the same mount namespace, so it finds firewalld on the bus. Seen in the
lab: dockerd 20.10 puts its bridges in a `docker` zone (target ACCEPT, written to
zones/docker.xml) and makes firewalld reload, which drops every runtime-only change — so the
scenarios configure with `--permanent` and `--reload`, as an admin must; dockerd 28.5.2 also
creates the `docker-forwarding` policy (policies/docker-forwarding.xml,
filter_FWD_policy_docker-forwarding).
Every process is started through `Lab.spawn` (recorded before it runs), the mount namespace's
file and mounts are registered mount roots: teardown and cleanup_stale remove them.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path

from nflens.errors import ToolError
from nflens.lab.mountns import HostMounts
from nflens.lab.netns import Lab


class Manager:
    """A host firewall manager: which /etc paths it needs privately, how it starts."""

    name = ""
    etc: tuple[str, ...] = ()

    def start(self, lab: Lab, mounts: HostMounts) -> None:
        """Bring the manager up before dockerd (as at boot)."""


class Ufw(Manager):
    name = "ufw"
    etc = ("/etc/ufw", "/etc/default/ufw")


class Firewalld(Manager):
    name = "firewalld"
    etc = ("/etc/firewalld",)

    def start(self, lab: Lab, mounts: HostMounts, timeout: float = 30) -> None:
        lab.spawn(mounts.ns, ["dbus-daemon", "--system", "--nofork", "--nopidfile"],
                  log=lab.state_dir / "dbus.log", mount=mounts.file)
        _wait(lambda: mounts.sh("test -S /run/dbus/system_bus_socket", check=False)
              .returncode == 0, timeout, "dbus-daemon did not create its socket",
              lab.state_dir / "dbus.log")
        log = lab.state_dir / "firewalld.log"
        lab.spawn(mounts.ns, ["firewalld", "--nofork", "--nopid", "--log-target", "console"],
                  log=log, graceful=True, mount=mounts.file)
        # --state answers before the permanent configuration is served on the bus (lab: a
        # `firewall-cmd --permanent` right after it once lost its connection).
        _wait(lambda: mounts.sh("firewall-cmd --state && firewall-cmd --permanent "
                                "--get-zones", check=False).returncode == 0,
              timeout, "firewalld did not reach state running", log)


MANAGERS = {"ufw": Ufw, "firewalld": Firewalld}


def manager(name: str) -> Manager:
    try:
        return MANAGERS[name]()
    except KeyError:
        raise ToolError(f"unknown host firewall {name!r}; known: {', '.join(MANAGERS)}") from None


def start(lab: Lab, ns: str, name: str, etc_from: Path | None = None) -> HostMounts:
    """The private mount namespace of host `ns` with firewall manager `name` running in it;
    its /etc copies from `etc_from` (an earlier host's saved private /etc) when given."""
    mgr = manager(name)
    mounts = HostMounts(lab, ns)
    mounts.create(mgr.etc, etc_from)
    mgr.start(lab, mounts)
    return mounts


PERSIST = ("import sys\nfrom pathlib import Path\n"
           "from nflens.snapshot.persist import collect_persist\n"
           "collect_persist(Path(sys.argv[1]), Path('/'))\n")


def collect_persist(mounts: HostMounts, out: Path) -> None:
    """persist/ as `nflens snapshot collect` finds it on that host: read inside the host's
    mount namespace (its /etc/ufw, /etc/firewalld are the private copies), written to a
    directory of the lab's (the same files on both sides) and moved into `out`."""
    tmp = mounts.lab.data_dir / "persist-out"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    mounts.sh(f"{shlex.quote(sys.executable)} -c {shlex.quote(PERSIST)} {shlex.quote(str(tmp))}")
    if (tmp / "persist").is_dir():
        shutil.rmtree(out / "persist", ignore_errors=True)
        shutil.copytree(tmp / "persist", out / "persist")
    shutil.rmtree(tmp, ignore_errors=True)


def _wait(ready, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    try:
        tail = " | ".join(log.read_text().splitlines()[-5:])
    except OSError:
        tail = "(no log)"
    raise ToolError(f"{what} within {timeout}s: {tail}")
