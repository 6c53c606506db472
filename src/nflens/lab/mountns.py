"""A persistent private mount namespace for a lab host: its own /etc/ufw, /etc/firewalld, /run.

Why: ufw and firewalld read and write their configuration under /etc, firewalld needs a system
D-Bus (/run/dbus/system_bus_socket) and writes /run/firewalld. None of that may touch the
machine's own /etc or /run, and two lab hosts on the machine must not meet on one bus. So the
host namespace gets a mount namespace of its own, kept alive by a file (not by a process), that
every host command enters with `nsenter --mount=FILE --net=/run/netns/NAME`.

Facts found by trying (util-linux 2.38, kernel 6.x):
- `unshare --mount=FILE` bind-mounts the new namespace onto FILE, which only works when FILE's
  parent mount is private: the file lives in `<data_dir>/mnt`, bind-mounted onto itself and
  made private first. Unmounting FILE (and ending every process inside) frees the namespace
  and every mount made in it, so the Lab registry records `<data_dir>/mnt` as a mount root:
  teardown and cleanup_stale unmount it, also after a SIGKILL of the run's owner.
- `--propagation private`: nothing mounted inside leaks back to the machine.
- A copy of the machine's mounts would hold other labs' namespace files (nsfs mounts) and so
  keep their network namespaces alive: those are unmounted inside first.
- /run becomes a tmpfs inside (dbus-daemon's socket and pid, /run/firewalld, ufw's lock,
  xtables.lock); the lab's own state directory `/run/nflens-lab/<id>` is bound back into it so
  dockerd's socket and exec-root are the same files on both sides. The namespace file is kept
  under the data dir (/var/lib), not under /run: a namespace must not hold a mount of itself.
- Copies of /etc/ufw, /etc/default/ufw and /etc/firewalld live in `<data_dir>/etc` and are
  bind-mounted over the originals inside, so `ufw allow` or `firewall-cmd --permanent` edit
  the copy only.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from nflens.errors import ToolError
from nflens.lab.netns import Lab, run_in
from nflens.proc import Completed

# The new namespace starts as a copy of the machine's mounts, other labs' namespace files
# (/run/netns/*, dockerd's netns mounts) included: holding those copies would keep their network
# namespaces alive after their owners delete them. Drop every nsfs mount first.
DROP_NSFS = ("grep ' - nsfs ' /proc/self/mountinfo | cut -d' ' -f5 | sort -r"
             " | while read -r m; do umount -l \"$m\" || true; done")


class HostMounts:
    """The private mount namespace of host namespace `ns` of `lab`."""

    def __init__(self, lab: Lab, ns: str):
        self.lab = lab
        self.ns = ns
        self.dir = lab.data_dir / "mnt"
        self.file = self.dir / "host.mnt"
        self.etc = lab.data_dir / "etc"
        # the writable layer of an `etc_overlay` /etc: what the host wrote or renamed there
        self.etc_upper = lab.data_dir / "etc-overlay" / "upper"

    def create(self, etc_copies: tuple[str, ...] = (), etc_from: Path | None = None,
               etc_overlay: bool = False) -> Path:
        """Make the namespace, give it a private /run and private copies of `etc_copies`
        (absolute paths of files or directories that exist on the machine), copied from
        `etc_from` (a saved private /etc of an earlier host: a "reboot") when given.
        `etc_overlay`: /etc becomes an overlay of the machine's with a writable upper layer of
        the lab's, so the host can have files the machine has not (Podman's /etc/containers)."""
        self.lab.add_dir(self.dir, mounts=True)
        self._run(["mount", "--bind", str(self.dir), str(self.dir)])
        self._run(["mount", "--make-private", str(self.dir)])
        self.file.touch()
        self._run(["unshare", f"--mount={self.file}", "--propagation", "private", "true"])
        lines = [DROP_NSFS] + self._private_run()
        if etc_overlay:
            lines.append(self._overlay_etc())
        for src in etc_copies:
            lines += self._private_copy(Path(src), etc_from)
        self.sh(" && ".join(lines))
        return self.file

    def _private_run(self) -> list[str]:
        state, hold = self.lab.state_dir, self.lab.data_dir / "run-orig"
        hold.mkdir(parents=True, exist_ok=True)
        q = shlex.quote
        return [f"mount --rbind /run {q(str(hold))}",
                "mount -t tmpfs -o mode=0755,size=16m nflens-run /run",
                "mkdir -p /run/dbus /run/lock /run/firewalld " + q(str(state)),
                f"mount --rbind {q(str(hold / state.relative_to('/run')))} {q(str(state))}",
                f"umount -l {q(str(hold))}", f"rmdir {q(str(hold))}"]

    def _overlay_etc(self) -> str:
        """Before the private copies: an overlay mounted on /etc later would hide their binds."""
        top = self.etc_upper.parent
        for d in ("upper", "work"):
            (top / d).mkdir(parents=True, exist_ok=True)
        q = shlex.quote
        return (f"mount -t overlay nflens-etc -o lowerdir=/etc,upperdir={q(str(top / 'upper'))},"
                f"workdir={q(str(top / 'work'))} /etc")

    def _private_copy(self, src: Path, etc_from: Path | None = None) -> list[str]:
        if not src.exists():
            raise ToolError(f"{src} does not exist: is its package installed?")
        dest = self.etc / src.relative_to("/etc")
        dest.parent.mkdir(parents=True, exist_ok=True)
        origin = etc_from / src.relative_to("/etc") if etc_from is not None else src
        if origin.is_dir():
            shutil.copytree(origin, dest, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, dest)
        return [f"mount --bind {shlex.quote(str(dest))} {shlex.quote(str(src))}"]

    def sh(self, line: str, timeout: float = 60, check: bool = True) -> Completed:
        """One shell line in the host's network and mount namespaces."""
        return run_in(self.ns, ["sh", "-c", line], timeout=timeout, check=check,
                      mount=self.file, runner=self.lab.runner)

    def _run(self, argv: list[str]) -> None:
        """A setup step in the machine's namespaces (the mount making the namespace file)."""
        proc = self.lab.runner.run(argv)
        if not proc.ok:
            raise ToolError(f"{' '.join(argv)}: exit {proc.returncode}: "
                            f"{(proc.error or proc.stderr).strip()}")
