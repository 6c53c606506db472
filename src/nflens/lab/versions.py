"""The Docker versions the lab runs: Debian 12's own dockerd 20.10 and, beside it, Debian 13's
docker.io 26.1.5 and Debian sid's docker.io 28.5.2 (with sid's containerd 2.1).

Why this way (facts found by trying on Debian 12, kernel 6.x):
- apt fetches the newer packages through a *private* configuration: an own sources list naming
  the trixie and sid suites (the machine's own Debian mirror, read from its apt sources; the
  archive keyring Debian 12 ships already holds trixie's keys), an own lists and cache folder,
  `-o Dir::Etc::SourceParts=/dev/null` so the machine's own lists are not read, then
  `apt-get download` of exact versions. Nothing is installed: `dpkg -x` unpacks each .deb into
  `/var/cache/nflens-lab/docker/<version>/`, a machine-wide cache other checkouts and CI reuse.
  The machine's apt sources, lists and dpkg database are never written.
- Their dockerd needs glibc >= 2.34 and runs on Debian 12 (2.36). sid's runc needs 2.38 and
  does not start, so every version uses the machine's runc (1.1.5); sid's containerd 2.1.9 runs.
  dockerd 26 uses the machine's containerd 1.6.20; dockerd 28 gets sid's 2.1 (`containerd`
  and `containerd-shim-runc-v2` found through PATH, as dockerd and containerd look them up).
- dockerd looks docker-proxy up in /usr/libexec/docker and PATH; `userland-proxy-path` in
  daemon.json names the cached one, so no version ever runs another version's proxy.

The tested versions are pinned (`TESTED`). When apt offers another Debian revision of the same
upstream version, that one is taken and recorded (manifest.json); anything else is *missing*:
`provide()` raises `VersionMissing` naming the version and why, and the lab tests skip with
that sentence -- never a silent pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nflens.errors import NflensError, ToolError
from nflens.proc import LOCAL, ProcessRunner

CACHE = Path(os.environ.get("NFLENS_LAB_CACHE", "/var/cache/nflens-lab"))
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SUITES = ("trixie", "sid")


@dataclass(frozen=True)
class Package:
    name: str
    tested: str  # the Debian version tested
    upstream: str  # the upstream version any fetched revision must have

    def acceptable(self, debian_version: str) -> bool:
        return _upstream(debian_version) == self.upstream


@dataclass(frozen=True)
class DockerVersion:
    key: str  # what `--docker` takes: "20", "26", "28"
    version: str  # upstream dockerd version
    origin: str  # where it comes from, for people
    packages: tuple[Package, ...] = ()  # empty: the machine's own docker.io

    @property
    def system(self) -> bool:
        return not self.packages


TESTED: dict[str, DockerVersion] = {v.key: v for v in (
    DockerVersion("20", "20.10.24", "Debian 12 docker.io (the machine's own)"),
    DockerVersion("26", "26.1.5", "Debian 13 docker.io, unpacked into the lab cache",
                  (Package("docker.io", "26.1.5+dfsg1-9+deb13u1+b1", "26.1.5"),)),
    DockerVersion("28", "28.5.2", "Debian sid docker.io + containerd 2.1, unpacked into the "
                  "lab cache", (Package("docker.io", "28.5.2+dfsg4-5", "28.5.2"),
                                Package("containerd", "2.1.9+ds1-5", "2.1.9"))),
)}
KEYS = tuple(TESTED)
DEFAULT = "20"


class VersionMissing(ToolError):
    """A Docker version the lab cannot run here; the message names it and says why."""


@dataclass(frozen=True)
class Install:
    """Where one version's binaries are: what the lab's Dockerd starts."""

    version: DockerVersion
    dockerd: str
    path_dirs: tuple[str, ...]  # put before the machine's PATH (containerd, shims)
    proxy: str | None  # userland-proxy-path
    packages: dict[str, str]  # package -> Debian version

    def env_path(self) -> str:
        base = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        return ":".join((*self.path_dirs, base))


def get(key: str) -> DockerVersion:
    key = key.removeprefix("docker").strip()
    for v in TESTED.values():
        if key in (v.key, v.version) or v.version.startswith(key + "."):
            return v
    raise NflensError(f"unknown Docker version {key!r}; the lab runs {', '.join(KEYS)}")


def version_dir(v: DockerVersion) -> Path:
    return CACHE / "docker" / v.version


def provide(key: str, runner: ProcessRunner = LOCAL) -> Install:
    """The installed binaries of version `key`, from the machine or the cache (no fetching);
    `runner` asks the machine's dockerd and dpkg which version they are."""
    v = get(key)
    if v.system:
        return _system(v, runner)
    root = version_dir(v)
    manifest = root / "manifest.json"
    if not manifest.exists():
        raise VersionMissing(f"Docker {v.version} ({v.origin}) is not in {root}: "
                             f"run `make lab-docker` (or `nflens lab versions --fetch`) as root")
    packages = json.loads(manifest.read_text())["packages"]
    dockerd = root / "usr/sbin/dockerd"
    if not os.access(dockerd, os.X_OK):
        raise VersionMissing(f"Docker {v.version}: {dockerd} is missing")
    dirs = tuple(str(d) for d in (root / "usr/bin", root / "usr/sbin") if d.is_dir())
    return Install(v, str(dockerd), dirs, str(root / "usr/sbin/docker-proxy"), packages)


def _system(v: DockerVersion, runner: ProcessRunner) -> Install:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise VersionMissing(f"Docker {v.version}: dockerd is not installed "
                             "(Debian 12: apt-get install docker.io)")
    out = runner.run([dockerd, "--version"]).stdout
    found = re.search(r"version (\S+?)[+,]", out)
    if not found or not found.group(1).startswith(v.version.rsplit(".", 1)[0]):
        raise VersionMissing(f"Docker {v.version}: the machine's dockerd is {out.strip()!r}")
    deb = runner.run(["dpkg-query", "-W", "-f", "${Version}", "docker.io"]).stdout.strip()
    return Install(v, dockerd, (), None, {"docker.io": deb} if deb else {})


def available(runner: ProcessRunner = LOCAL) -> dict[str, str]:
    """key -> "" when that version can run here, else why not."""
    out = {}
    for key in KEYS:
        try:
            provide(key, runner)
            out[key] = ""
        except VersionMissing as exc:
            out[key] = str(exc)
    return out


# -- fetching -----------------------------------------------------------------------------------

Log = Callable[[str], None]


def fetch_all(log: Log = print, runner: ProcessRunner = LOCAL) -> dict[str, str]:
    """Fetch every version not yet in the cache; key -> "" or the reason it failed."""
    result = {}
    apt = PrivateApt(CACHE / "apt", runner)
    for key in KEYS:
        try:
            fetch(key, log, apt, runner)
            result[key] = ""
        except VersionMissing as exc:
            result[key] = str(exc)
            log(f"Docker {TESTED[key].version}: NOT available: {exc}")
    return result


def fetch(key: str, log: Log = print, apt: PrivateApt | None = None,
          runner: ProcessRunner = LOCAL) -> Install:
    """Provide version `key`, fetching and unpacking it first when the cache lacks it."""
    v = get(key)
    if v.system:
        return provide(key, runner)
    with _locked():
        with contextlib.suppress(VersionMissing):
            return provide(key, runner)
        if os.geteuid() != 0:
            raise VersionMissing(f"Docker {v.version} is not in {version_dir(v)} and only "
                                 "root can fetch it")
        apt = apt or PrivateApt(CACHE / "apt", runner)
        apt.update(log)
        debs = []
        for pkg in v.packages:
            chosen = _choose(pkg, apt.versions(pkg.name), v)
            debs.append((pkg, chosen, apt.download(pkg.name, chosen)))
        _unpack(v, debs, runner)
        log(f"Docker {v.version}: unpacked into {version_dir(v)} ("
            + ", ".join(f"{p.name} {ver}" for p, ver, _ in debs) + ")")
    return provide(key, runner)


def _choose(pkg: Package, offered: list[str], v: DockerVersion) -> str:
    if pkg.tested in offered:
        return pkg.tested
    same = [o for o in offered if pkg.acceptable(o)]
    if same:
        return same[0]
    raise VersionMissing(f"Docker {v.version}: {pkg.name} {pkg.upstream} is not offered by "
                         f"{'/'.join(SUITES)} (offered: {', '.join(offered) or 'nothing'})")


def _unpack(v: DockerVersion, debs: list[tuple[Package, str, Path]],
            runner: ProcessRunner = LOCAL) -> None:
    """dpkg -x into a temporary folder beside the target, then one rename: a reader never sees
    half a version."""
    target = version_dir(v)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{v.version}-", dir=target.parent))
    try:
        packages: dict[str, str] = {}
        sha256: dict[str, str] = {}
        manifest = {"version": v.version, "packages": packages, "sha256": sha256}
        for pkg, ver, deb in debs:
            _run(runner, ["dpkg-deb", "-x", str(deb), str(tmp)], f"unpack {deb.name}")
            packages[pkg.name] = ver
            sha256[deb.name] = hashlib.sha256(deb.read_bytes()).hexdigest()
            deb.unlink()  # unpacked: the .deb is not needed again
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One fetch at a time on the machine (two checkouts or CI may run `make` at once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _run(runner: ProcessRunner, argv: list[str], what: str, timeout: float = 600,
         cwd: Path | None = None, stderr: bool = False) -> str:
    """stdout of a command (with its stderr after it when `stderr`); a failure, a timeout or a
    missing tool becomes VersionMissing saying what could not be done."""
    proc = runner.run(argv, timeout=timeout, cwd=None if cwd is None else str(cwd))
    if proc.error is not None:
        raise VersionMissing(f"{what}: {proc.error}")
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise VersionMissing(f"{what}: exit {proc.returncode}: {tail}")
    return proc.stdout + (proc.stderr if stderr else "")


def _upstream(debian_version: str) -> str:
    """`28.5.2+dfsg4-5` -> `28.5.2`; `2.1.9~ds1-5` -> `2.1.9` (epoch, repack suffix, revision)."""
    version = debian_version.split(":", 1)[-1]
    return re.split(r"[+~-]", version, maxsplit=1)[0]


def mirror() -> str | None:
    """The machine's own Debian mirror (the URI serving its release's main suite), read from its
    apt sources; NFLENS_LAB_DEBIAN_MIRROR overrides. Read only: nothing there is changed."""
    if os.environ.get("NFLENS_LAB_DEBIAN_MIRROR"):
        return os.environ["NFLENS_LAB_DEBIAN_MIRROR"].rstrip("/")
    return mirror_from(Path("/etc/apt"))


def mirror_from(etc_apt: Path) -> str | None:
    entries: list[tuple[str, list[str]]] = []
    files = [etc_apt / "sources.list"] + sorted((etc_apt / "sources.list.d").glob("*.list"))
    for f in files:
        with contextlib.suppress(OSError):
            for line in f.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    for f in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            for stanza in re.split(r"\n\s*\n", f.read_text()):
                fields = dict(_deb822(stanza))
                if "deb" in fields.get("types", "").split():
                    for uri in fields.get("uris", "").split():
                        entries.append((uri, fields.get("suites", "").split()))
    for uri, suites in entries:
        if any(re.fullmatch(r"[a-z]+(-updates)?", s) for s in suites) \
                and "security" not in uri and "debian" in uri:
            return uri.rstrip("/")
    return None


def _deb822(stanza: str) -> Iterator[tuple[str, str]]:
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        yield key.strip().lower(), value.strip()


class PrivateApt:
    """apt-get with its own sources list, lists, cache and download folder under `root`."""

    def __init__(self, root: Path, runner: ProcessRunner = LOCAL,
                 suites: tuple[str, ...] = SUITES):
        """`suites`: the Debian suites its sources list names (the Podman lab adds bookworm)."""
        self.root = root
        self.runner = runner
        self.suites = suites
        self.sources = root / "sources.list"
        self.debs = root / "debs"
        self._updated = False
        self._failed: VersionMissing | None = None

    def options(self) -> list[str]:
        return ["-o", f"Dir::Etc::SourceList={self.sources}",
                "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", f"Dir::State::Lists={self.root / 'lists'}",
                "-o", f"Dir::Cache={self.root / 'cache'}",
                "-o", "Dir::Etc::Preferences=/dev/null",
                "-o", "Dir::Etc::PreferencesParts=/dev/null",
                "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1", "-q"]

    def update(self, log: Log) -> None:
        """Once per instance; a failed update is not tried again for the next version."""
        if self._updated:
            return
        if self._failed is not None:
            raise self._failed
        try:
            self._update(log)
        except VersionMissing as exc:
            self._failed = exc
            raise

    def _update(self, log: Log) -> None:
        uri = mirror()
        if uri is None:
            raise VersionMissing("no Debian mirror in the machine's apt sources "
                                 "(set NFLENS_LAB_DEBIAN_MIRROR)")
        for d in ("lists/partial", "cache/archives/partial", "debs"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.sources.write_text("".join(f"deb [signed-by={KEYRING}] {uri} {s} main\n"
                                        for s in self.suites))
        log(f"private apt: update of {', '.join(self.suites)} into {self.root}")
        out = _run(self.runner, ["apt-get", *self.options(), "update"],
                   "apt-get update (private lists)", stderr=True)
        lists = list((self.root / "lists").glob("*_Packages*"))
        if not lists:  # apt-get update exits 0 when it could fetch nothing
            lines = out.splitlines()
            warned = [f"{line.strip()} {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
                      for i, line in enumerate(lines) if line.startswith(("Err", "E:", "W:"))]
            raise VersionMissing(f"apt-get update fetched no package list of "
                                 f"{'/'.join(self.suites)}"
                                 f" from {uri} (no network?): "
                                 + (warned[0] if warned else "no error printed"))
        self._updated = True

    def versions(self, name: str) -> list[str]:
        out = _run(self.runner, ["apt-cache", *self.options(), "madison", name],
                   f"apt-cache madison {name}")
        found = []
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 3 and any(f" {s}/" in f" {parts[2]}" for s in self.suites):
                found.append(parts[1])
        return list(dict.fromkeys(found))

    def download(self, name: str, version: str) -> Path:
        """`apt-get download` writes into its working directory: the private `debs` folder."""
        _run(self.runner, ["apt-get", *self.options(), "download", f"{name}={version}"],
             f"apt-get download {name}={version}", cwd=self.debs)
        epoch, _, rest = version.rpartition(":")  # apt writes an epoch as `1%3a`
        stem = f"{epoch}%3a{rest}" if epoch else rest
        found = sorted(self.debs.glob(f"{name}_{stem}_*.deb"))
        if not found:
            raise VersionMissing(f"apt-get download {name}={version} wrote no .deb")
        return found[-1]
