"""`nflens snapshot collect|script|show|redact`: make, inspect and share a snapshot (a directory
or one .tar.gz)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from nflens.report.console import console, join, literal

snapshot_app = typer.Typer(help="Collect, show or redact a host snapshot (files: README, "
                           "'Snapshot files').",
                           no_args_is_help=True)


def _console() -> Console:
    """Rich picks colour only on a TTY; off a TTY, a wide fixed width keeps tables readable.
    Markup is off: every name is printed literally (report.console)."""
    return console(wide_off_tty=True)


@snapshot_app.command("collect")
def collect_cmd(
    directory: Path | None = typer.Argument(None, help="where to write the snapshot files "
                                            "(optional with --tar)"),
    tar: Path | None = typer.Option(None, "--tar", help="also (or only) write it as this "
                                    ".tar.gz, one file to attach"),
    netns: str | None = typer.Option(None, "--netns", help="collect inside this network namespace"),
    docker_host: str | None = typer.Option(None, "--docker-host", help="docker -H URL",
                                           envvar=["NFLENS_DOCKER_HOST", "DOCKER_HOST"]),
    root: Path | None = typer.Option(None, "--root", help="read daemon.json and persist/ from "
                                     "this filesystem root (default / on the live host)"),
    as_json: bool = typer.Option(False, "--json", help="what was collected, as JSON"),
) -> None:
    """Run the read-only commands of CONTRACT §2 and write their outputs (root needed)."""
    from nflens.errors import NflensError
    from nflens.snapshot.archive import stem, write_tar
    from nflens.snapshot.collect import collect

    if directory is None and tar is None:
        raise NflensError("snapshot collect: give a DIR, --tar FILE.tar.gz, or both")
    daemon_json = None if root is None else root / "etc/docker/daemon.json"
    with tempfile.TemporaryDirectory(prefix="nflens-collect-") as tmp:
        if directory is not None:
            out = directory
        else:
            assert tar is not None  # refused above when both are missing
            out = Path(tmp) / stem(tar)
        report = collect(out, netns=netns, docker_host=docker_host, daemon_json=daemon_json,
                         persist_root=root)
        if tar is not None:
            write_tar(out, tar)
    where = str(tar if directory is None else directory)
    if as_json:
        sys.stdout.write(json.dumps({"dir": str(directory) if directory else None,
                                     "tar": str(tar) if tar else None, "written": report.written,
                                     "missing": [{"file": f, "reason": r}
                                                 for f, r in report.missing]}, indent=1) + "\n")
        return
    text = _console()
    text.print(join(literal(where, "bold"), f": wrote {len(report.written)} file(s)",
                    literal(f" (and {tar})" if directory is not None and tar else "")))
    for name in report.written:
        text.print(join("  ", literal("✓", "green"), f" {name}"))
    for name, reason in report.missing:
        text.print(join("  ", literal("–", "yellow"), f" {name}: {reason}"))


@snapshot_app.command("script")
def script_cmd() -> None:
    """Print a POSIX shell script that collects the same snapshot on a host without nflens:
    `nflens snapshot script > collect.sh`, then `sudo sh collect.sh DIR` (or `--tar
    FILE.tar.gz`) there. Read-only commands only."""
    from nflens.snapshot.script import render

    sys.stdout.write(render())


def _one_snapshot(positional: Path | None, option: Path | None, name: str) -> Path:
    """The snapshot given as the positional argument (CONTRACT) or as --snapshot, once."""
    if positional is not None and option is not None and positional != option:
        raise typer.BadParameter(f"give the snapshot as {name} or --snapshot, not both",
                                 param_hint="--snapshot")
    found = option or positional
    if found is None:
        raise typer.BadParameter(f"missing the snapshot: {name} or --snapshot", param_hint=name)
    return found


@snapshot_app.command("redact")
def redact_cmd(
    src: Path = typer.Argument(None, help="a snapshot directory or .tar.gz", show_default=False,
                               metavar="SRC"),
    dst: Path = typer.Argument(None, help="where to write the redacted copy (a directory, or "
                               "a .tar.gz)", show_default=False, metavar="DST"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="the snapshot, as an option "
                                         "(then DST is the only argument)"),
) -> None:
    """Copy a snapshot without what identifies the host (for bug reports): public addresses,
    MAC addresses and Docker IDs replaced consistently, environment values, the hostname and
    what the analysis does not read removed. Prints what it changed."""
    from nflens.snapshot.archive import is_tar_name, opened, stem, write_tar
    from nflens.snapshot.redact import redact

    if snapshot is not None and dst is None:
        src, dst = snapshot, src
    src = _one_snapshot(src, snapshot, "SRC")
    if dst is None:
        raise typer.BadParameter("missing the destination DST", param_hint="DST")

    with opened(src) as src_dir, tempfile.TemporaryDirectory(prefix="nflens-redact-") as tmp:
        if is_tar_name(dst):
            out = Path(tmp) / stem(dst)
            report = redact(src_dir, out)
            write_tar(out, dst)
        else:
            report = redact(src_dir, dst)
    _print_redaction(dst, report)


def _print_redaction(dst: Path, report: Any) -> None:
    """What `redact` removed and replaced; the stand-ins are printed (never written into the
    copy): the user keeps them to read answers about it."""
    text = _console()
    text.print(join(literal(dst, "bold"), ": redacted copy written"))
    text.print(literal(f"  environment: {report.env_values} value(s) of "
                       f"{report.env_containers} container(s) removed"))
    if report.dropped:
        shown = ", ".join(report.dropped[:12]) + (", …" if len(report.dropped) > 12 else "")
        text.print(literal(f"  removed {len(report.dropped)} field(s) the analysis does not "
                           f"read: {shown}"))
    if report.hostname:
        text.print(literal(f"  hostname {report.hostname} -> redacted-host"))
    ids = {real[:12]: new[:12] for real, new in report.ids.items()}  # the short forms
    for title, mapping in (("public address(es)", report.addresses),
                           ("MAC address(es)", report.macs),
                           ("container/network ID(s) (short forms shown)", ids)):
        text.print(literal(f"  {len(mapping)} {title} replaced"))
        for real, stand_in in mapping.items():
            text.print(literal(f"    {real} -> {stand_in}"))


@snapshot_app.command("show")
def show_cmd(
    directory: Path = typer.Argument(None, help="a snapshot directory or .tar.gz",
                                     show_default=False, metavar="DIRECTORY"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="the same, as an option"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """Files and assumptions, interfaces, routes, sockets, Docker state and rulesets."""
    from nflens.snapshot.archive import read_host
    from nflens.snapshot.summary import summarize

    data = summarize(read_host(_one_snapshot(directory, snapshot, "DIRECTORY")))
    if as_json:
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return
    render(data, _console())


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(title=literal(title), title_justify="left", show_header=True)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(literal(v) for v in row))
    return table


def render(data: dict[str, Any], console: Console) -> None:
    """The human view of `summarize()`'s data."""
    files = data["files"]
    console.print(join(literal(f"snapshot {data['name']}", "bold"),
                       f": {len(files['present'])} file(s) present"
                       + (f", missing: {', '.join(files['missing'])}" if files["missing"] else "")))
    for text in data["assumptions"]:
        console.print(join("  ", literal("assumed", "yellow"), f" {text}"))
    console.print(_table("interfaces", ("name", "kind", "up", "master", "peer", "addresses"), [
        (i["name"], i["kind"], "up" if i["up"] else "down", i["master"],
         "" if i["peer_ifindex"] is None else f"{i['peer_ifindex']}@{i['peer_netns'] or 'here'}",
         " ".join(i["addresses"])) for i in data["interfaces"]]))
    routes = ", ".join(f"{k}: {v}" for k, v in data["routes"].items()) or "none"
    console.print(literal(f"routes: {routes}; {data['policy_rules']} policy rule(s)"))
    console.print(_table("listening sockets", ("proto", "address", "port", "iface", "process"), [
        (s["proto"], s["addr"], s["port"], s["iface"], s["process"]) for s in data["sockets"]]))
    _render_docker(data, console)
    _render_rules(data, console)


def _render_docker(data: dict[str, Any], console: Console) -> None:
    console.print(_table("containers", ("name", "state", "networks", "published"), [
        (c["name"], "running" if c["running"] else "stopped",
         " ".join(f"{n['network']}:{n['ipv4'] or ''}{' ' + n['ipv6'] if n['ipv6'] else ''}"
                  for n in c["networks"]) or c["network_mode"],
         " ".join(f"{p['host_ip'] or '*'}:{p['host_port']}->{p['container_port']}/{p['proto']}"
                  for p in c["ports"])) for c in data["containers"]]))
    console.print(_table("networks", ("name", "driver", "bridge", "subnets", "options"), [
        (n["name"], n["driver"], n["bridge"], " ".join(n["subnets"]),
         " ".join(k for k, on in (("internal", n["internal"]), ("no-icc", not n["icc"]),
                                  ("no-masquerade", not n["masquerade"]),
                                  ("ipv6", n["enable_ipv6"])) if on)
         + (f" gw-mode={n['gateway_mode_ipv4']}" if n["gateway_mode_ipv4"] != "nat" else ""))
        for n in data["networks"]]))
    d = data["daemon"]
    console.print(literal(f"docker daemon {d['version'] or '(version unknown)'}: "
                          f"userland-proxy={d['userland_proxy']} iptables={d['iptables']} "
                          f"ip6tables={d['ip6tables']} firewall-backend={d['firewall_backend']}"))


def _render_rules(data: dict[str, Any], console: Console) -> None:
    rs = data["ruleset"]
    rows = []
    for t in rs["tables"]:
        for c in t["chains"]:
            rows.append((t["family"], t["name"], t["origin"], c["name"], c["hook"],
                         c["priority"], c["policy"], c["rules"]))
    console.print(_table(f"rulesets ({rs['rules']} rules"
                         + (f", backend {rs['backend']}" if rs["backend"] else "") + ")",
                         ("family", "table", "origin", "chain", "hook", "prio", "policy", "rules"),
                         rows))
    if data["unsupported"]:
        console.print(literal(f"{len(data['unsupported'])} construct(s) not modelled:", "yellow"))
        for u in data["unsupported"]:
            console.print(literal(f"  {u['file']}:{u['line']}: {u['what']}: {u['text']}"))


def register(app: typer.Typer) -> None:
    app.add_typer(snapshot_app, name="snapshot")
