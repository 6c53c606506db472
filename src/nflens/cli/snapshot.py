"""`nflens snapshot collect|show|redact`: make, inspect and share a snapshot directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

snapshot_app = typer.Typer(help="Collect, show or redact a host snapshot (CONTRACT §2).",
                           no_args_is_help=True)


def _console() -> Console:
    """Rich picks colour only on a TTY; off a TTY, a wide fixed width keeps tables readable."""
    tty = sys.stdout.isatty()
    return Console(highlight=False, width=None if tty else 140)


@snapshot_app.command("collect")
def collect_cmd(
    directory: Path = typer.Argument(..., help="where to write the snapshot files"),
    netns: str | None = typer.Option(None, "--netns", help="collect inside this network namespace"),
    docker_host: str | None = typer.Option(None, "--docker-host", help="docker -H URL"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the read-only commands of CONTRACT §2 and write their outputs (root needed)."""
    from nflens.snapshot.collect import collect

    report = collect(directory, netns=netns, docker_host=docker_host)
    if as_json:
        sys.stdout.write(json.dumps({"dir": str(report.out_dir), "written": report.written,
                                     "missing": [{"file": f, "reason": r}
                                                 for f, r in report.missing]}, indent=1) + "\n")
        return
    console = _console()
    console.print(f"[bold]{directory}[/]: wrote {len(report.written)} file(s)")
    for name in report.written:
        console.print(f"  [green]✓[/] {name}")
    for name, reason in report.missing:
        console.print(f"  [yellow]–[/] {name}: {reason}")


@snapshot_app.command("redact")
def redact_cmd(
    src: Path = typer.Argument(..., help="a snapshot directory"),
    dst: Path = typer.Argument(..., help="where to write the redacted copy"),
) -> None:
    """Copy a snapshot with its public addresses replaced consistently (for bug reports)."""
    from nflens.snapshot.redact import redact

    mapping = redact(src, dst)
    console = _console()
    console.print(f"[bold]{dst}[/]: {len(mapping)} public address(es) replaced")
    for real, stand_in in mapping.items():
        console.print(f"  {real} -> {stand_in}")


@snapshot_app.command("show")
def show_cmd(
    directory: Path = typer.Argument(..., help="a snapshot directory"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """Files and assumptions, interfaces, routes, sockets, Docker state and rulesets."""
    from nflens.snapshot.read import read_snapshot
    from nflens.snapshot.summary import summarize

    data = summarize(read_snapshot(directory))
    if as_json:
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return
    render(data, _console())


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=True)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def render(data: dict[str, Any], console: Console) -> None:
    """The human view of `summarize()`'s data."""
    files = data["files"]
    console.print(f"[bold]snapshot {data['name']}[/]: {len(files['present'])} file(s) present"
                  + (f", missing: {', '.join(files['missing'])}" if files["missing"] else ""))
    for text in data["assumptions"]:
        console.print(f"  [yellow]assumed[/] {text}")
    console.print(_table("interfaces", ("name", "kind", "up", "master", "peer", "addresses"), [
        (i["name"], i["kind"], "up" if i["up"] else "down", i["master"],
         "" if i["peer_ifindex"] is None else f"{i['peer_ifindex']}@{i['peer_netns'] or 'here'}",
         " ".join(i["addresses"])) for i in data["interfaces"]]))
    console.print("routes: " + (", ".join(f"{k}: {v}" for k, v in data["routes"].items()) or "none")
                  + f"; {data['policy_rules']} policy rule(s)")
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
    console.print(f"docker daemon {d['version'] or '(version unknown)'}: "
                  f"userland-proxy={d['userland_proxy']} iptables={d['iptables']} "
                  f"ip6tables={d['ip6tables']} firewall-backend={d['firewall_backend']}")


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
        console.print(f"[yellow]{len(data['unsupported'])} construct(s) not modelled:[/]")
        for u in data["unsupported"]:
            console.print(f"  {u['file']}:{u['line']}: {u['what']}: {u['text']}")


def register(app: typer.Typer) -> None:
    app.add_typer(snapshot_app, name="snapshot")
