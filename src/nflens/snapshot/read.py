"""Read a snapshot directory (CONTRACT §2) into an `ir.Host`.

Every file is optional, but one at least must be there: a directory with none of KNOWN_FILES
and nothing under persist/ is not a snapshot (an empty or wrong directory audited as a clean
host, issue 29.4). For each missing file the Host records what was assumed instead
(`Host.assumptions`), so every answer that depends on it can say so; `Host.files` lists what
was read. Malformed files raise ParseError naming the file (and the line, where the format or
the JSON decoder gives one); a directory that does not exist raises SnapshotError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nflens import dialect_registry, safejson, textfile
from nflens.dialects import ipset as ipset_dialect
from nflens.errors import ParseError, SnapshotError
from nflens.ir.host import DockerState, Host, Route
from nflens.ir.ipset import IpSet
from nflens.literal import printable
from nflens.snapshot import dockerfiles, hostfiles, podmanfiles, podmanstate, rulesets, safefile
from nflens.snapshot.schemas import EntryError

KNOWN_FILES = dialect_registry.snapshot_files() + (
    "ip-addr.json", "ip-link.json", "ip-route.json", "ip6-route.json", "ip-rule.json", "ss.txt",
    "sysctl.txt", "docker-containers.json", "docker-networks.json", "docker-info.json",
    "docker-version.json", "daemon.json", "ipset-save.txt",
)
# read when present, never reported missing: most hosts have no Podman (snapshot show's
# `missing` stays what it was); a snapshot of them alone is a snapshot too
OPTIONAL_FILES = podmanfiles.FILES
DOCKER_SYSCTLS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables",
                  "net.bridge.bridge-nf-call-ip6tables")


LENIENT_TEXT = ("ss.txt", "sysctl.txt")


class _Dir:
    """File access for one snapshot: records what was read; names the file in every error."""

    def __init__(self, root: Path):
        self.root = root
        self.files: list[str] = []
        self.texts: dict[str, str] = {}  # the JSON files' texts, for the line of an error
        self.assumptions: list[str] = []

    def path(self, name: str) -> str:
        return str(self.root / name)

    def text(self, name: str) -> str | None:
        """The file's text; regular files inside the snapshot only (safefile: no link is
        followed, no FIFO or device opened). A ruleset dump or JSON file that is not UTF-8 is
        refused at the line of the first bad byte, as `nflens rules` and JSON readers refuse it
        (issue 29.13: it was read with U+FFFD in place); ss.txt and sysctl.txt print names and
        values byte for byte (a process name need not be UTF-8), so they stay lenient."""
        data = safefile.read_bytes(self.root, name)
        if data is None:
            return None
        self.files.append(name)
        if name in LENIENT_TEXT:
            return data.decode("utf-8", errors="replace")
        return textfile.decode(data, self.path(name))

    def json(self, name: str) -> Any | None:
        text = self.text(name)
        if text is None:
            return None
        if not text.strip():
            raise ParseError("empty file, expected JSON", self.path(name))
        self.texts[name] = text
        return safejson.loads(text, self.path(name))

    def missing(self, name: str, assumed: str) -> None:
        self.assumptions.append(f"no {name}: {assumed}")


def _renamed(exc: ParseError, root: Path) -> ParseError:
    """Make a ParseError's file a path the user can open (parsers get the bare file name)."""
    file = exc.file or "<input>"
    if not Path(file).is_absolute() and (root / file).exists():
        file = str(root / file)
    return ParseError(exc.message, file, exc.line)


def read_snapshot(path: str | Path) -> Host:
    """Read every CONTRACT §2 file present under `path` into a Host (see module docstring)."""
    root = Path(path)
    if not root.is_dir():
        raise SnapshotError(f"{root}: not a snapshot directory (it does not exist)")
    d = _Dir(root)
    try:
        host = _read(d, root)
    except EntryError as exc:  # a wrong element of a JSON list: find its line
        line = safejson.element_line(d.texts.get(Path(exc.file or "").name, ""), exc.entry)
        raise _renamed(ParseError(exc.message, exc.file, line), root) from None
    except ParseError as exc:
        raise _renamed(exc, root) from None
    if not set(d.files) & set(KNOWN_FILES + OPTIONAL_FILES) and not host.persist:
        raise SnapshotError(_not_a_snapshot(root))
    return host


def _not_a_snapshot(root: Path) -> str:
    """The error for a directory without any snapshot file, with what to do instead."""
    shown = ", ".join(KNOWN_FILES[:3] + ("ip-addr.json", "docker-containers.json"))
    hint = "make one with `nflens snapshot collect DIR`"
    try:
        inner = sorted(p.name for p in root.iterdir()
                       if p.is_dir() and not p.is_symlink()
                       and any((p / f).is_file() for f in KNOWN_FILES))
    except OSError:
        inner = []
    if inner:
        hint = f"a snapshot is one level down ({printable(str(root / inner[0]))}"
        hint += f" and {len(inner) - 1} more)" if len(inner) > 1 else ")"
    return (f"{printable(str(root))}: no snapshot file found (expected {shown}, ... or "
            f"persist/); {hint}")


def _read(d: _Dir, root: Path) -> Host:
    interfaces = _interfaces(d)
    routes = _routes(d)
    rules = d.json("ip-rule.json")
    if rules is None:
        d.missing("ip-rule.json", "the default policy rules (local 0, main 32766, default 32767)")
    ruleset, rs_assumptions = rulesets.load(d.text)
    persist = _persist(d)
    host = Host(
        ruleset=ruleset,
        interfaces=interfaces,
        routes=routes,
        policy_rules=hostfiles.policy_rules(rules, d.path("ip-rule.json")) if rules else (),
        sockets=_sockets(d),
        sysctls=_sysctls(d),
        docker=_docker(d),
        podman=podmanstate.state(d.json, d.path, dict(persist), d.assumptions.append),
        persist=persist,
        name=root.resolve().name,
        ipsets=_ipsets(d),
    )
    files = tuple(sorted(set(d.files))) + tuple(f"persist/{k}" for k, _ in host.persist)
    return _with(host, files, tuple(d.assumptions) + tuple(rs_assumptions))


def _with(host: Host, files: tuple[str, ...], assumptions: tuple[str, ...]) -> Host:
    from dataclasses import replace

    return replace(host, files=files, assumptions=assumptions)


def _ipsets(d: _Dir) -> tuple[IpSet, ...] | None:
    """The sets `-m set` rules look up; None without the file (no assumption is recorded: a
    rule that looks one up is uncertain, naming the set). An entry with a timeout is taken as
    present, as it was when the snapshot was taken: said once, as an assumption."""
    text = d.text("ipset-save.txt")
    if text is None:
        return None
    sets = ipset_dialect.parse(text, d.path("ipset-save.txt"))
    # `timeout 0` is a permanent entry (include/linux/netfilter/ipset/ip_set_timeout.h:
    # IPSET_ELEM_PERMANENT 0, never expired): fail2ban's ipset actions add their bans so
    timed = [s.name for s in sets if any(e.timeout for e in s.entries)]
    if timed:
        d.assumptions.append(
            f"ipset-save.txt: the entries with a timeout (in {', '.join(timed[:5])}"
            f"{' ...' if len(timed) > 5 else ''}) are taken as present, as at the snapshot; "
            "they expire later")
    return sets


def _interfaces(d: _Dir):
    links, addrs = d.json("ip-link.json"), d.json("ip-addr.json")
    if links is None:
        d.missing("ip-link.json", "interface kinds, bridge membership and veth peers unknown "
                  "(interfaces from ip-addr.json are treated as plain Ethernet devices)")
    if addrs is None:
        d.missing("ip-addr.json", "no interface addresses known (local addresses come from "
                  "ip-route.json's local table if present)")
    return hostfiles.interfaces(links, addrs, d.path("ip-link.json"), d.path("ip-addr.json"))


def _routes(d: _Dir) -> tuple[Route, ...]:
    """IPv4 and IPv6 routes, once each (some `ip` versions print IPv6 routes in both files)."""
    out: list[Route] = []
    for name, version in (("ip-route.json", 4), ("ip6-route.json", 6)):
        data = d.json(name)
        if data is None:
            d.missing(name, f"IPv{version} routes derived from interface addresses "
                      "(connected and local routes only, no default route)")
            continue
        out.extend(hostfiles.routes(data, d.path(name), version))
    return tuple(dict.fromkeys(out))


def _sockets(d: _Dir):
    text = d.text("ss.txt")
    if text is None:
        d.missing("ss.txt", "no host sockets known: a connection to the host itself is allowed "
                  "only to published Docker ports")
        return ()
    return hostfiles.sockets(text, d.path("ss.txt"))


def _sysctls(d: _Dir):
    text = d.text("sysctl.txt")
    if text is None:
        d.missing("sysctl.txt", "assumed net.ipv4.ip_forward=1, "
                  "net.bridge.bridge-nf-call-iptables=1 "
                  "and net.bridge.bridge-nf-call-ip6tables=1 (Docker sets them)")
        return ()
    values = hostfiles.sysctls(text, d.path("sysctl.txt"))
    keys = {k for k, _ in values}
    for key in DOCKER_SYSCTLS:
        if key not in keys:
            why = "; br_netfilter may not be loaded)" if "bridge" in key else ")"
            d.assumptions.append(f"sysctl.txt has no {key}: assumed 1 (Docker sets it{why}")
    return values


def _docker(d: _Dir) -> DockerState:
    conts, nets = d.json("docker-containers.json"), d.json("docker-networks.json")
    info, version = d.json("docker-info.json"), d.json("docker-version.json")
    config = d.json("daemon.json")
    if conts is None:
        d.missing("docker-containers.json", "no containers")
    if nets is None:
        d.missing("docker-networks.json", "no Docker networks (a container's bridge is unknown)")
    if version is None:
        d.missing("docker-version.json", "Docker version unknown (ip6tables assumed enabled, "
                  "the default since Docker 27)")
    if config is None:
        d.missing("daemon.json", "Docker defaults (userland-proxy=true, iptables=true)")
    if info is None and config is not None and "firewall-backend" not in config:
        d.missing("docker-info.json", "firewall backend assumed iptables")
    assumptions: list[str] = []
    networks = dockerfiles.networks(nets, d.path("docker-networks.json"), assumptions) \
        if nets is not None else ()
    d.assumptions.extend(assumptions)
    return DockerState(
        containers=dockerfiles.containers(conts, d.path("docker-containers.json"))
        if conts is not None else (),
        networks=networks,
        daemon=dockerfiles.daemon(config, info, dockerfiles.server_version(version),
                                  d.path("daemon.json")),
    )


def _persist(d: _Dir) -> tuple[tuple[str, str], ...]:
    """Every regular file below persist/ (copies of /etc/nftables.conf, units ...), by path
    relative to persist/; links and special files are named in the assumptions, not read."""
    files, skipped = safefile.walk(d.root, "persist")
    for name, kind in skipped:
        d.assumptions.append(f"{name} is {kind}: not read (links are never followed)")
    out = []
    for name in files:
        text = safefile.read_text(d.root, name)
        if text is not None:
            out.append((name.removeprefix("persist/"), text))
    return tuple(out)
