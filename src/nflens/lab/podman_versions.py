"""The Podman versions the lab runs (issue 27): Debian 12's podman 4.3.1 with netavark 1.4.0, and
Debian sid's podman 5.8.6 with netavark 1.17.2, fetched like the lab's Docker 26/28.

Why this way (facts found by trying on Debian 12, glibc 2.36, kernel 6.x):
- The private apt configuration of lab/versions.py (its own sources list, lists and cache under
  /var/cache/nflens-lab/apt-podman, naming the bookworm and sid suites of the machine's own
  mirror) downloads exact versions; `dpkg-deb -x` unpacks them into
  /var/cache/nflens-lab/podman/<version>/. Nothing is installed; the machine's apt sources,
  lists and dpkg database are never written.
- Podman is not installed on the machine, so bookworm's stack also needs the libraries podman
  links that the machine lacks (libgpgme11, libsubid4): unpacked into the same tree and found
  through LD_LIBRARY_PATH (same glibc as the machine, so podman's re-exec of /proc/self/exe and
  the machine's iptables/nft it runs are unaffected).
- sid's binaries need glibc 2.38 (podman, conmon) and 2.39 (netavark). sid's libc6 and the few
  libraries they need at sid's version are unpacked into the tree and each ELF binary of the
  stack gets sid's loader as interpreter and the tree's library folders as DT_RPATH (patchelf,
  bookworm's, unpacked the same way). LD_LIBRARY_PATH cannot be used there: the machine's
  iptables and nft that netavark runs would then load sid's libc with the machine's loader.
  The interpreter is rewritten in place (not wrapped), so /proc/self/exe is still podman.
- Every version runs the machine's runc 1.1.5 (as the Docker lab does); conmon is the one of the
  version's own suite.

`provide(key)` raises versions.VersionMissing naming what is missing (the lab tests skip with
that sentence); `fetch(key)` fetches first. The tested versions are pinned (TESTED).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nflens.errors import NflensError
from nflens.lab import versions
from nflens.lab.versions import Log, Package, VersionMissing
from nflens.proc import LOCAL, ProcessRunner

SUITES = ("bookworm", "sid")
RUNC = "/usr/sbin/runc"
LIBDIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
LOADER = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"  # sid: merged /usr
PATCHELF = Package("patchelf", "0.14.3-1+b1", "0.14.3")


@dataclass(frozen=True)
class PodmanVersion:
    key: str  # "4" | "5"
    version: str  # upstream podman
    netavark: str  # upstream netavark
    origin: str
    packages: tuple[Package, ...]
    libs: tuple[Package, ...]  # libraries podman links that the machine lacks or has too old
    own_libc: bool = False  # binaries of a newer glibc: loader + RPATH into the tree


def _p(name: str, tested: str) -> Package:
    return Package(name, tested, versions._upstream(tested))


TESTED: dict[str, PodmanVersion] = {v.key: v for v in (
    PodmanVersion("4", "4.3.1", "1.4.0", "Debian 12 podman + netavark, unpacked into the lab cache",
                  (_p("podman", "4.3.1+ds1-8+deb12u1+b3"), _p("netavark", "1.4.0-3"),
                   _p("aardvark-dns", "1.4.0-3"), _p("conmon", "2.1.6+ds1-1"),
                   _p("golang-github-containers-common", "0.50.1+ds1-4"),
                   _p("catatonit", "0.1.7-1+b2")),
                  (_p("libgpgme11", "1.18.0-3+b1"), _p("libsubid4", "1:4.13+dfsg1-1+deb12u2"))),
    PodmanVersion("5", "5.8.6", "1.17.2", "Debian sid podman + netavark with sid's glibc, "
                  "unpacked into the lab cache",
                  (_p("podman", "5.8.6+ds1-3"), _p("netavark", "1.17.2-3"),
                   _p("aardvark-dns", "1.17.1-3"), _p("conmon", "2.1.13+ds1-2"),
                   _p("golang-github-containers-common", "0.67.1-3"),
                   _p("catatonit", "0.2.1-2+b31")),
                  (_p("libc6", "2.43-7"), _p("libgcc-s1", "16.2.0-4"),
                   _p("libgpgme45", "2.2.0-2"), _p("libassuan9", "3.0.2-2+b2"),
                   _p("libgpg-error0", "1.61-5"), _p("libseccomp2", "2.6.1-1+b2"),
                   _p("libsqlite3-0", "3.53.4-2"), _p("libsubid6", "1:4.20.3-1"),
                   _p("libsemanage2", "3.11-1+b2"), _p("libglib2.0-0t64", "2.90.1-2")),
                  own_libc=True),
)}
KEYS = tuple(TESTED)


@dataclass(frozen=True)
class Install:
    """Where one version's binaries are."""

    version: PodmanVersion
    root: Path
    packages: dict[str, str]

    @property
    def podman(self) -> str:
        return str(self.root / "usr/bin/podman")

    @property
    def helpers(self) -> str:
        """netavark, aardvark-dns, rootlessport: Debian's helper_binaries_dir."""
        return str(self.root / "usr/lib/podman")

    @property
    def conmon(self) -> str:
        return str(self.root / "usr/bin/conmon")

    def env(self) -> dict[str, str]:
        """What podman runs with: the tree's libraries for bookworm's stack (none for sid's,
        whose binaries carry their RPATH)."""
        if self.version.own_libc:
            return {}
        return {"LD_LIBRARY_PATH": ":".join(str(self.root / d) for d in LIBDIRS)}


def get(key: str) -> PodmanVersion:
    key = key.removeprefix("podman").strip()
    for v in TESTED.values():
        if key in (v.key, v.version) or v.version.startswith(key + "."):
            return v
    raise NflensError(f"unknown Podman version {key!r}; the lab runs {', '.join(KEYS)}")


def version_dir(v: PodmanVersion) -> Path:
    return versions.CACHE / "podman" / v.version


def provide(key: str) -> Install:
    v = get(key)
    root = version_dir(v)
    manifest = root / "manifest.json"
    if not manifest.exists():
        raise VersionMissing(f"Podman {v.version} ({v.origin}) is not in {root}: run "
                             "`python -m nflens.lab.podman_versions --fetch` as root")
    install = Install(v, root, json.loads(manifest.read_text())["packages"])
    for exe in (install.podman, install.conmon, f"{install.helpers}/netavark", RUNC):
        if not os.access(exe, os.X_OK):
            raise VersionMissing(f"Podman {v.version}: {exe} is missing")
    return install


def fetch(key: str, log: Log = print, runner: ProcessRunner = LOCAL) -> Install:
    """Provide version `key`, fetching and unpacking it first when the cache lacks it."""
    v = get(key)
    with versions._locked():
        with contextlib.suppress(VersionMissing):
            return provide(key)
        if os.geteuid() != 0:
            raise VersionMissing(f"Podman {v.version} is not in {version_dir(v)} and only "
                                 "root can fetch it")
        apt = versions.PrivateApt(versions.CACHE / "apt-podman", runner, SUITES)
        apt.update(log)
        debs = [(pkg, apt.download(pkg.name, _choose(apt, pkg, v)))
                for pkg in (*v.packages, *v.libs)]
        patchelf = apt.download(PATCHELF.name, _choose(apt, PATCHELF, v)) if v.own_libc else None
        _unpack(v, debs, patchelf, runner)
        log(f"Podman {v.version}: unpacked into {version_dir(v)}")
    return provide(key)


def _choose(apt: versions.PrivateApt, pkg: Package, v: PodmanVersion) -> str:
    offered = apt.versions(pkg.name)
    if pkg.tested in offered:
        return pkg.tested
    same = [o for o in offered if pkg.acceptable(o)]
    if same:
        return same[0]
    raise VersionMissing(f"Podman {v.version}: {pkg.name} {pkg.upstream} is not offered by "
                         f"{'/'.join(SUITES)} (offered: {', '.join(offered) or 'nothing'})")


def _unpack(v: PodmanVersion, debs: list[tuple[Package, Path]], patchelf: Path | None,
            runner: ProcessRunner) -> None:
    """dpkg -x into a temporary folder beside the target, patch, then one rename."""
    target = version_dir(v)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{v.version}-", dir=target.parent))
    try:
        packages: dict[str, str] = {}
        for pkg, deb in debs:
            versions._run(runner, ["dpkg-deb", "-x", str(deb), str(tmp)], f"unpack {deb.name}")
            packages[pkg.name] = deb.name.split("_")[1].replace("%3a", ":")
            deb.unlink()
        if patchelf is not None:
            _own_libc(tmp, target, patchelf, runner)
        manifest = {"version": v.version, "netavark": v.netavark, "packages": packages}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


STACK = ("usr/bin/podman", "usr/bin/conmon", "usr/lib/podman/netavark",
         "usr/lib/podman/aardvark-dns", "usr/lib/podman/rootlessport", "usr/bin/catatonit")


def _own_libc(tmp: Path, target: Path, patchelf_deb: Path, runner: ProcessRunner) -> None:
    """Point each binary of the stack at the tree's loader and libraries, as they will be
    after the rename to `target` (the paths are written into the ELF files)."""
    tool = Path(tempfile.mkdtemp(prefix=".patchelf-", dir=tmp.parent))
    try:
        versions._run(runner, ["dpkg-deb", "-x", str(patchelf_deb), str(tool)], "unpack patchelf")
        patchelf_deb.unlink()
        rpath = ":".join(str(target / d) for d in LIBDIRS)
        for rel in STACK:
            exe = tmp / rel
            if not exe.exists() or exe.is_symlink():
                continue
            probe = runner.run([str(tool / "usr/bin/patchelf"), "--print-interpreter", str(exe)])
            if probe.returncode != 0:  # static (catatonit): no interpreter to change
                continue
            versions._run(runner, [str(tool / "usr/bin/patchelf"), "--set-interpreter",
                                   str(target / LOADER), "--force-rpath", "--set-rpath", rpath,
                                   str(exe)], f"patchelf {rel}")
    finally:
        shutil.rmtree(tool, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m nflens.lab.podman_versions [--fetch]`: each version's state (fetching it)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    bad = 0
    for key in KEYS:
        try:
            install = fetch(key) if "--fetch" in args else provide(key)
            print(f"Podman {install.version.version} (netavark {install.version.netavark}): "
                  f"{install.root}")
        except VersionMissing as exc:
            bad = 1
            print(f"Podman {TESTED[key].version}: NOT available: {exc}")
    return bad


if __name__ == "__main__":
    raise SystemExit(main())
