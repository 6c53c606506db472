"""Renderings of a policy plan: the diff, each statement's proof, the flows that change verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nflens.report.console import literal
from nflens.report.text import VERDICT_STYLE


def _stopped(result) -> str:
    ref = result.stopped_at
    if ref is not None and ref.rule.source is not None:
        return ref.rule.source.text
    return result.reason


def render_plan(plan, console: Console, show_payload: bool = False) -> None:
    v = plan.verification
    console.print(literal(f"Policy plan for {plan.before.name} — dialect {plan.dialect}",
                          style="bold"))
    for w in plan.resolved.warnings:
        console.print(literal(f"warning: {w}", style="yellow"))
    console.rule("Rules: what changes")
    console.print(literal(plan.diff or "(no change: the live rules already are the policy's)",
                          lines=True), soft_wrap=True)
    if show_payload:
        for name, text in plan.payloads.items():
            console.rule(literal(f"{name} transaction"))
            console.print(literal(text, lines=True), soft_wrap=True)
    for c in plan.conflicts:
        console.print(literal(f"CANNOT HOLD {c.message}", "bold red"))
    if v is None:
        if plan.conflicts:
            console.print(Text("NOT OK: see above", style="bold red"))
        return
    console.rule("Proof on the simulator")
    for label in v.statements:
        judged = [j for j in v.judged if j.statement == label]
        bad = [j for j in judged if not j.holds]
        mark = Text("holds ", style="green") if judged and not bad else \
            Text("FAILS ", style="bold red") if bad else Text("unexercised ", style="yellow")
        console.print(mark + literal(f"{label} ({len(judged)} flows)"))
        for j in judged:
            if j.decided_by:
                console.print(literal(f"    {j.probe.flow.name}: expected {j.expect}: "
                                      f"{j.decided_by} refuses it, not the policy"))
        for j in bad:
            console.print(literal(f"    {j.probe.flow.name}: expected {j.expect}, "
                               f"got {j.after.verdict} — {_stopped(j.after)}", style="red"))
    _changes(v, console)
    ok = Text("OK: every statement holds and nothing else changed", style="bold green")
    console.print(ok if plan.ok else Text("NOT OK: see above", style="bold red"))


def _changes(v, console: Console) -> None:
    changes = v.changes
    if not changes:
        console.print("No flow changes verdict.")
        return
    table = Table(title=f"{len(changes)} flows change verdict")
    for col in ("flow", "before", "after", "because of"):
        table.add_column(col)
    for j in changes:
        why = literal(j.statement) if j.statement else Text("UNINTENDED", style="bold red")
        table.add_row(literal(j.probe.flow.name),
                      Text(j.before.verdict, VERDICT_STYLE[j.before.verdict]),
                      Text(j.after.verdict, VERDICT_STYLE[j.after.verdict]), why)
    console.print(table)


def plan_json(plan) -> dict[str, Any]:
    v = plan.verification
    out: dict[str, Any] = {"dialect": plan.dialect, "warnings": plan.resolved.warnings,
                           "diff": plan.diff, "payloads": plan.payloads,
                           "conflicts": [{"statement": c.statement, "shadowed_by": c.shadowed_by,
                                          "message": c.message} for c in plan.conflicts]}
    if v is not None or plan.conflicts:
        out["ok"] = plan.ok
    if v is not None:
        out["statements"] = [
            {"statement": s, "holds": all(j.holds for j in v.judged if j.statement == s),
             "flows": sum(1 for j in v.judged if j.statement == s)} for s in v.statements]
        out["changes"] = [{"flow": j.probe.flow.name, "before": j.before.verdict,
                           "after": j.after.verdict, "statement": j.statement,
                           "expect": j.expect} for j in v.changes]
        out["host_decisions"] = [{"flow": j.probe.flow.name, "decided_by": j.decided_by,
                                  "expect": j.expect, "statement": j.statement}
                                 for j in v.judged if j.decided_by]
        out["failures"] = [{"flow": j.probe.flow.name, "expect": j.expect,
                            "after": j.after.verdict, "reason": j.after.reason}
                           for j in v.failures]
    return out
