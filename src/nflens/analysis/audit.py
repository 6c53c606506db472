"""`nflens audit`: exposure of every published port and host socket, then every finding, each
fix verified by re-running its finding on the snapshot with the fix applied."""

from __future__ import annotations

from typing import Any

from nflens.analysis.context import AuditContext
from nflens.analysis.findings import SEVERITIES, Finding, modules
from nflens.analysis.fixes import apply
from nflens.errors import NflensError
from nflens.ir.host import Host


def findings(ctx: AuditContext, verify: bool = True) -> list[Finding]:
    out: list[Finding] = []
    for module in modules():
        found = module.detect(ctx)
        if verify:
            for f in found:
                _verify(ctx.host, module, f)
        out += found
    return sorted(out, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.subject))


def _verify(host: Host, module, finding: Finding) -> None:
    fix = finding.fix
    if not fix.edits:
        fix.verified = None
        fix.verification = "not checked: the fix is advice, not rules"
        return
    try:
        fixed = apply(host, fix)
    except NflensError as exc:
        fix.verified, fix.verification = False, f"could not apply: {exc}"
        return
    again = [f for f in module.detect(AuditContext(fixed)) if f.subject == finding.subject]
    fix.verified = not again
    fix.verification = ("re-analysed with the fix applied: the finding is gone" if not again
                        else f"re-analysed with the fix applied: still {again[0].explanation}")


def audit(host: Host, verify: bool = True) -> dict[str, Any]:
    ctx = AuditContext(host)
    exposure = [p.exposure.to_json() for p in ctx.published] + \
        [e.to_json() for _, e in ctx.sockets]
    return {"exposure": exposure, "findings": [f.to_json() for f in findings(ctx, verify)],
            "assumptions": list(host.assumptions)}
