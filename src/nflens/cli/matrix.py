"""`nflens matrix` (CONTRACT §4): the service matrix of one iptables-save filter chain, with
fffuu's defaults (see nflens.symbolic.matrix)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from nflens.literal import printable


def matrix(
    file: Path = typer.Argument(..., help="an iptables-save or ip6tables-save dump"),
    chain: str = typer.Option("FORWARD", "--chain", help="FORWARD or INPUT (or any chain)"),
    proto: str = typer.Option("tcp", "--proto", help="tcp, udp, sctp or icmp"),
    sport: int = typer.Option(10000, "--sport", help="source port of the packets"),
    dport: int = typer.Option(..., "--dport", help="destination port of the packets"),
    table: str = typer.Option("filter", "--table", help="table of the chain"),
    ipassmt: Path | None = typer.Option(None, "--ipassmt",
                                        help="fffuu IP assignment file (default: lo only)"),
    as_json: bool = typer.Option(False, "--json", help="the classes and the matrix as JSON"),
) -> None:
    """Which classes of addresses may open connections to which (packets assumed NEW,
    unknown matches in upper closure, like fffuu)."""
    from nflens.dialects import parse_file
    from nflens.errors import NflensError
    from nflens.symbolic.matrix import MatrixError, parse_ipassmt, service_matrix

    if not 0 <= sport <= 65535 or not 0 <= dport <= 65535:
        raise NflensError("ports are 0-65535")
    assignment = None
    if ipassmt is not None:
        from nflens.textfile import read_text

        text = read_text(ipassmt)  # FILE:LINE where it is not UTF-8
        assignment = parse_ipassmt(text, str(ipassmt))
    ruleset = parse_file(file)
    try:
        result = service_matrix(ruleset, chain=chain, proto=proto, sport=sport, dport=dport,
                                table=table, ipassmt=assignment)
    except MatrixError as exc:
        raise NflensError(f"{file}: {exc}") from exc
    if as_json:
        out = result.to_json()
        out["unknown"] = result.notes
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return
    typer.echo(f"=========== {proto.upper()} port {sport}->{dport} =========")
    typer.echo(printable(result.text(), keep_newlines=True))
    if result.notes:
        typer.echo(printable(f"\nabstracted (upper closure): {', '.join(result.notes[:12])}", True)
                   + (" ..." if len(result.notes) > 12 else ""), err=True)


def register(app: typer.Typer) -> None:
    app.command("matrix")(matrix)
