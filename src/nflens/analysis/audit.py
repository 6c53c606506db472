"""`nflens audit`: exposure of every published port and host socket, then every finding, each
fix verified by re-running its finding on the snapshot with the fix applied."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from nflens.analysis import egress_report, fixscript
from nflens.analysis.baseline import group_causes
from nflens.analysis.context import AuditContext
from nflens.analysis.findings import SEVERITIES, Finding, modules
from nflens.analysis.fixes import Fix, apply, combine
from nflens.analysis.owners import annotate_audit
from nflens.analysis.placement import realize
from nflens.errors import NflensError
from nflens.ir.host import Host


def findings(ctx: AuditContext, verify: bool = True,
             on_module: Callable[[int], None] | None = None) -> list[Finding]:
    out: list[Finding] = []
    for n, module in enumerate(modules(), 1):
        found = module.detect(ctx)
        for f in found:  # the host's placement: where and in which language (placement/)
            f.fix = realize(ctx, f.fix, f"{f.id} {f.subject}")
        if verify:
            _verify_batch(ctx, module, found)
        out += found
        if on_module is not None:
            on_module(n)
    return sorted(out, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.subject))


def _fixed_context(ctx: AuditContext, fix: Fix, scope) -> AuditContext:
    """The context a fix is judged in: the fixed host (modules with `still_there` judge the
    outcome, not whether a rule now mentions the subject). The host-service intent is shared
    when every change is on the forward path only (DOCKER-USER, an nft forward chain), which a
    connection to the host itself never crosses."""
    fixed = AuditContext(apply(ctx.host, fix), scope)
    if fix.forward:
        fixed.adopt_intents(ctx)
    return fixed


def _remaining(module, fixed: AuditContext, findings: list[Finding]) -> dict[str, str]:
    """Subject -> what is still wrong on the fixed host. A module may judge its own findings
    (`still_there(ctx, finding)`, e.g. only over the sources that were wrong), else it runs
    again in full."""
    if hasattr(module, "still_there"):
        out = {}
        for f in findings:
            why = module.still_there(fixed, f)
            if why:
                out[f.subject] = why
        return out
    subjects = {f.subject for f in findings}
    return {f.subject: f.explanation for f in module.detect(fixed) if f.subject in subjects}


def _verify_batch(ctx: AuditContext, module, found: list[Finding]) -> None:
    """Fixes that only insert rules are verified together (one re-analysis for all of a
    module's findings: 500 published ports must not mean 500 re-analyses); a finding still
    present afterwards, or with deletions among its edits, is verified on its own."""
    batch = [f for f in found if f.fix.inserts_only and f.scope is not None]
    alone = [f for f in found if f not in batch]
    if len(batch) > 1:
        scope = set().union(*(f.scope for f in batch if f.scope is not None))
        try:
            fixed = _fixed_context(ctx, combine([f.fix for f in batch]), scope)
        except NflensError:
            alone += batch
        else:
            left = _remaining(module, fixed, batch)
            for f in batch:
                if f.subject in left:
                    alone.append(f)
                else:
                    f.fix.verified = True
                    f.fix.verification = ("re-analysed with the fix applied (together with the "
                                          f"{len(batch) - 1} other fixes of this kind): the "
                                          "finding is gone")
    else:
        alone += batch
    for f in alone:
        _verify(ctx, module, f)


def _verify(ctx: AuditContext, module, finding: Finding) -> None:
    fix = finding.fix
    if not fix.checkable:
        fix.verified = None
        fix.verification = "not checked: the fix is advice, not rules"
        return
    try:
        fixed = _fixed_context(ctx, fix, finding.scope)
    except NflensError as exc:
        fix.verified, fix.verification = False, f"could not apply: {exc}"
        return
    again = _remaining(module, fixed, [finding]).get(finding.subject)
    fix.verified = not again
    fix.verification = ("re-analysed with the fix applied: the finding is gone" if not again
                        else f"re-analysed with the fix applied: still {again}")


class Mapper(Protocol):
    """`mapper(fn, ctx, indexes, ports)` yields (index, fn(ctx, index)) for every index, in any
    order; `ports`: how many of the indexes are published ports (the costly ones: the rest
    are the findings' questions), for the mapper to judge how many processes they are worth."""

    def __call__(self, fn: Callable[[AuditContext, int], Any], ctx: AuditContext,
                 items: list[int], ports: int) -> Iterable[tuple[int, Any]]: ...


Progress = Callable[[str, int, int], None]


def _serial(fn, ctx: AuditContext, items: list[int], ports: int) -> Iterator[tuple[int, Any]]:
    for i in items:
        yield i, fn(ctx, i)


def answer_at(ctx: AuditContext, i: int):
    """The exposure of the i-th published port, or past them the answer to a question of the
    findings or the egress report: each pure, and independent of every other, so a caller may
    compute them anywhere (`audit --jobs` does, in other processes)."""
    ports = ctx.ports
    return ports[i].exposure if i < len(ports) else ctx.questions[i - len(ports)].ask()


def _answer_all(ctx: AuditContext, mapper: Mapper, tick: Progress) -> None:
    """Every published port's exposure, then the questions the findings and the egress report
    will ask (which do not depend on them), through one mapper: one set of workers warms its
    caches once."""
    published = ctx.ports
    ports = len(published)
    asking = [egress_report, *(m for m in modules() if hasattr(m, "questions"))]
    ctx.questions = ctx.unanswered(q for m in asking for q in m.questions(ctx))
    asked = len(ctx.questions)
    tick("exposure", 0, ports)
    if asked:
        tick("questions", 0, asked)
    done = {"exposure": 0, "questions": 0}
    for i, answer in mapper(answer_at, ctx, list(range(ports + asked)), ports):
        if i < ports:
            published[i].__dict__["exposure"] = answer  # the cached_property's slot
            stage, total = "exposure", ports
        else:
            ctx.keep(ctx.questions[i - ports], answer)
            stage, total = "questions", asked
        done[stage] += 1
        tick(stage, done[stage], total)
    ctx.questions = []


def audit(host: Host, verify: bool = True, mapper: Mapper | None = None,
          progress: Progress | None = None) -> dict[str, Any]:
    """`mapper`: see Mapper (default: here, in order); `progress(stage, done, total)` hears
    about every published port and every question of the findings and the egress report."""
    ctx = AuditContext(host)
    tick = progress or (lambda stage, done, total: None)
    _answer_all(ctx, mapper or _serial, tick)
    exposure = [p.exposure.to_json() for p in ctx.ports] + \
        [e.to_json() for _, e in ctx.sockets]
    mods = modules()
    tick("findings", 0, len(mods))
    found = findings(ctx, verify, on_module=lambda n: tick("findings", n, len(mods)))
    script = fix_script(ctx, found)
    return annotate_audit({"exposure": exposure, "egress": egress_report.egress(ctx),
                           "findings": group_causes([f.to_json() for f in found]),
                           "assumptions": list(host.assumptions),
                           "fix_script": script.to_json()}, ctx.owners)


def fix_script(ctx: AuditContext, found: list[Finding]) -> fixscript.Script:
    """Every verified fix as one block, verified together (fixscript). When the whole fails,
    a finding whose premise the other fixes remove (`applies` of its module is false on the
    host they fix: input-bypass of a port another fix now filters on the forward path, as
    seed004's repaired dead DOCKER-USER rule does) is superseded: its fix leaves the script,
    and the rest is verified again, with the superseded findings' premise judged gone too."""
    script = _verified_script(ctx, found)
    if script.verified is not False:
        return script
    gone = _superseded(ctx, script.findings)
    if not gone:
        return script
    again = _verified_script(ctx, [f for f in found if f not in gone], tuple(gone))
    if again.verified:
        again.text += "".join(f"# superseded: {f.id} {f.subject} (the other fixes filter it "
                              "on the forward path)\n" for f in gone)
        again.verification += "; superseded: " + ", ".join(f"{f.id} {f.subject}" for f in gone)
        return again
    return script


def _superseded(ctx: AuditContext, chosen: list[Finding]) -> list[Finding]:
    by_id = {m.ID: m for m in modules()}
    out = []
    for f in chosen:
        module = by_id[f.id]
        if not hasattr(module, "applies"):
            continue
        others = fixscript.build([g for g in chosen if g is not f])
        try:
            fixed = _fixed_context(ctx, others.fix, None)
        except NflensError:
            continue
        if not module.applies(fixed, f):
            out.append(f)
    return out


def _verified_script(ctx: AuditContext, found: list[Finding],
                     premised: tuple[Finding, ...] = ()) -> fixscript.Script:
    script = fixscript.build(found, ctx)

    def remaining(ctx: AuditContext, fixed_ones: list[Finding]) -> dict[str, str]:
        scopes = [f.scope for f in fixed_ones]
        scope = None if any(s is None for s in scopes) else \
            set().union(*(s for s in scopes if s is not None))
        fixed = _fixed_context(ctx, script.fix, scope)
        by_id = {m.ID: m for m in modules()}
        left: dict[str, str] = {}
        for ident in dict.fromkeys(f.id for f in fixed_ones):
            mine = [f for f in fixed_ones if f.id == ident]
            left |= _remaining(by_id[ident], fixed, mine)
        left |= {f.subject: "its premise holds again" for f in premised
                 if by_id[f.id].applies(AuditContext(fixed.host), f)}
        return left

    fixscript.verify(ctx, script, remaining)
    return script
