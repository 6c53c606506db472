"""Rich text renderings: a packet-tracer style trace and the `check` table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nflens.kernel.simulate import FlowResult
from nflens.kernel.trace import (
    ArpStep,
    BridgeStep,
    ConntrackStep,
    EndpointStep,
    HookStep,
    NatStep,
    PacketStep,
    PolicyStep,
    RouteStep,
    RuleStep,
    VerdictStep,
)
from nflens.report.console import literal

VERDICT_STYLE = {"allow": "bold green", "deny": "bold red", "uncertain": "bold yellow"}


def _owned(owners, file: str | None, line: int | None, full: bool = False) -> Text:
    """The owner of a rule after it: "(docker)"; in full, for a manager's rule, its own terms
    and configuration line ("ufw: ufw allow ... port 80 — etc/ufw/user.rules:21")."""
    owner = owners.at(file, line) if owners is not None and file and line else None
    if owner is None:
        return Text("")
    if not full or not (owner.says or owner.config):
        return literal(f"  ({owner.kind})", style="dim")
    tail = " — ".join(x for x in (owner.says, owner.config) if x)
    return Text("\n") + literal(f"   owner: {owner.kind}: {tail}", style="bold")


def render_trace(result: FlowResult, console: Console, verbose: bool = True,
                 owners=None) -> None:
    """Numbered phases, each hook with the rules it evaluated, both directions, then the verdict.
    With `owners` (analysis.owners.RuleOwners), each rule names its owner."""
    console.print(literal(f"Flow {result.name}", style="bold"))
    direction = None
    phase_no = 0
    for step in result.steps:
        if step.direction != direction and step.direction in ("original", "reply"):
            direction = step.direction
            title = "Original direction" if direction == "original" else "Reply direction"
            console.rule(literal(title, style="bold cyan"))
        line = _line(step, verbose)
        if line is None:
            continue
        if isinstance(step, RuleStep):
            line += _owned(owners, step.file, step.line)
        if isinstance(step, (HookStep, RouteStep, PacketStep, EndpointStep, ArpStep, BridgeStep)):
            phase_no += 1
            console.print(literal(f"{phase_no:>3}. ", style="dim") + line)
        else:
            console.print(literal("       ") + line)
    console.rule()
    style = VERDICT_STYLE.get(result.verdict, "bold")
    console.print(literal("Verdict: ", style="bold") + literal(result.verdict.upper(), style=style)
                  + literal(f" — {result.reason}"))
    if result.stopped_at is not None:
        ref = result.stopped_at
        src = ref.rule.source
        where = f"{src.file}:{src.line}" if src else f"#{ref.index}"
        console.print(literal("Decided by: ", style="bold") +
                      literal(f"{ref.family} {ref.table} {ref.chain} rule {ref.index} ({where}): ")
                      + literal(ref.rule.text, style="yellow")
                      + _owned(owners, src.file if src else None, src.line if src else None,
                               full=True))
    elif result.stopped_policy is not None:
        fam, table, chain, policy = result.stopped_policy
        console.print(literal("Decided by: ", style="bold") +
                      literal(f"the policy {policy.upper()} of {fam} {table} {chain}"))
    for why in result.uncertain_because:
        console.print(literal("  hinges on: ", style="yellow") + literal(why))
    for a in result.assumptions:
        console.print(literal("  assumed: ", style="dim") + literal(a, style="dim"))


def render_what_if(change, console: Console) -> None:
    """What the same flow does after the change that removes the deciding rule or policy."""
    desc, after = change
    style = VERDICT_STYLE.get(after.verdict, "bold")
    line = literal("What would change it: ", style="bold") + literal(f"{desc}: ") + \
        literal(after.verdict.upper(), style=style) + literal(f" — {after.reason}")
    console.print(line)
    if after.verdict == "deny" and after.stopped_at is not None:
        ref = after.stopped_at
        src = ref.rule.source
        where = f"{src.file}:{src.line}" if src else f"#{ref.index}"
        console.print(literal("  then stopped by: ")
                      + literal(f"{ref.family} {ref.table} {ref.chain} ({where}): ")
                      + literal(ref.rule.text, style="yellow"))


def _line(step, verbose: bool) -> Text | None:
    if isinstance(step, PacketStep):
        return literal(f"[{step.phase}] packet {step.packet}", style="bold")
    if isinstance(step, HookStep):
        return literal(f"{step.family} {step.hook}: table {step.table} chain {step.chain} "
                    f"(prio {step.priority}, {step.origin}) -> {step.verdict}", style="magenta")
    if isinstance(step, RuleStep):
        if step.matched is False and not verbose:
            return None
        mark = {True: "✔", False: "·", "unknown": "?"}.get(step.matched, "?")
        where = f"{step.file}:{step.line}" if step.file else f"#{step.index}"
        style = ("green" if step.matched is True
                 else "yellow" if step.matched == "unknown" else "dim")
        text = literal(f"{mark} {step.chain}#{step.index} {where}  {step.rule}", style=style)
        if step.action and step.matched is True:
            text += literal(f"  => {step.action}", style="bold")
        if step.note:
            text += literal(f"  ({step.note})", style="yellow")
        return text
    if isinstance(step, PolicyStep):
        return literal(f"  policy {step.policy} of {step.chain}", style="bold")
    if isinstance(step, ConntrackStep):
        return literal(f"conntrack: {step.state} {step.ct_direction} {step.note} {step.entry}",
                    style="blue")
    if isinstance(step, NatStep):
        return literal(f"{step.nat} ({step.by}): {step.before}  →  {step.after}", style="bold blue")
    if isinstance(step, RouteStep):
        return literal(f"route {step.dst}: {step.decision} via {step.route}", style="cyan")
    if isinstance(step, BridgeStep):
        return literal(f"bridge {step.bridge}: {step.in_port or 'host'} → "
                       f"{step.out_port or 'host'} {step.note}", style="cyan")
    if isinstance(step, ArpStep):
        ok = "ok" if step.ok else "FAILED"
        return literal(f"ARP {step.sender} asks who-has {step.target}: {ok} {step.note}",
                    style="cyan" if step.ok else "bold red")
    if isinstance(step, EndpointStep):
        note = f" ({step.note})" if step.note else ""
        return literal(f"endpoint {step.endpoint}: {step.answers}{note}", style="bold")
    if isinstance(step, VerdictStep):
        return None
    return literal(str(step))


def render_check(results: list[FlowResult], console: Console, owners=None) -> None:
    table = Table(title="nflens check", show_lines=False)
    for col in ("flow", "verdict", "expect", "ok", "decided by / reason"):
        table.add_column(col)
    for r in results:
        ok = "" if r.expect is None else ("✔" if r.holds else "✘")
        why = r.reason
        if r.stopped_at is not None:
            src = r.stopped_at.rule.source
            where = f"{src.file}:{src.line}" if src else ""
            why = f"{r.stopped_at.table}/{r.stopped_at.chain}#{r.stopped_at.index} {where}: " \
                  f"{r.stopped_at.rule.text}"
            owner = owners.at(src.file, src.line) if owners is not None and src else None
            if owner is not None:
                why += f"  ({owner.kind}{': ' + owner.says if owner.says else ''})"
        elif r.stopped_policy is not None:
            why = f"policy {r.stopped_policy[3]} of {r.stopped_policy[1]}/{r.stopped_policy[2]}"
        table.add_row(literal(r.name), literal(r.verdict, style=VERDICT_STYLE.get(r.verdict, "")),
                      literal(r.expect or ""), ok, literal(why))
    console.print(table)
