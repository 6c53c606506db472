"""`nflens rules FILE`: parse one dump, list its tables/chains and what the model does not cover."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from nflens.dialect_registry import reader_names
from nflens.report.console import console, join, literal


def rules_json(ruleset) -> dict:
    return {
        "dialect": ruleset.dialect,
        "backend": ruleset.backend,
        "tables": [
            {"family": t.family, "name": t.name, "origin": t.origin,
             "chains": [{"name": c.name, "hook": c.hook, "priority": c.priority,
                         "policy": c.policy, "type": c.type, "rules": len(c.rules)}
                        for c in t.chains]}
            for t in ruleset.tables],
        "unsupported": [{"line": u.line, "text": u.text, "what": u.what}
                        for u in ruleset.unsupported],
        "warnings": [{"line": line, "message": msg} for _f, line, msg in ruleset.warnings],
    }


def rules(
    file: Path = typer.Argument(..., help="a dump: iptables-save, ip6tables-save, nft JSON or "
                                          "text, ebtables-save"),
    dialect: str | None = typer.Option(None, "--dialect",
                                       help=f"force one of {', '.join(reader_names())}"),
    as_json: bool = typer.Option(False, "--json", help="the parsed ruleset as JSON"),
) -> None:
    """Tables, chains (hook, priority, policy), rule counts, and every unmodelled construct."""
    from nflens.dialects import parse_file

    ruleset = parse_file(file, dialect)
    if as_json:
        sys.stdout.write(json.dumps(rules_json(ruleset), indent=1) + "\n")
        return
    out = console()
    out.print(join(literal(file, "bold"), f": {ruleset.dialect}"
                   + (f" ({ruleset.backend})" if ruleset.backend else "")
                   + f", {ruleset.rule_count()} rules"))
    table = Table(show_header=True)
    for col in ("family", "table", "chain", "hook", "priority", "policy", "rules"):
        table.add_column(col)
    for t in ruleset.tables:
        for c in t.chains:
            table.add_row(*(literal(v) for v in (
                t.family, t.name, c.name, c.hook or "", "" if c.priority is None
                else str(c.priority), c.policy or "", str(len(c.rules)))))
    out.print(table)
    if ruleset.unsupported:
        out.print(literal(f"{len(ruleset.unsupported)} construct(s) the simulator does not "
                          "model:", "yellow"))
        for u in ruleset.unsupported:
            out.print(literal(f"  {file}:{u.line}: {u.what}: {u.text}"))
    for _f, line, msg in ruleset.warnings:
        out.print(literal(f"warning {file}:{line}: {msg}", "dim"))


def register(app: typer.Typer) -> None:
    app.command("rules")(rules)
