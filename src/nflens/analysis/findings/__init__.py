"""The catalogue of findings: one module each, with `ID`, `SEVERITY`, `TITLE` and
`detect(ctx) -> list[Finding]`. A module whose `detect` asks costly pure questions of the host
(reaches, intents) also lists them up front, `questions(ctx) -> list[Question]`
(analysis.context): the audit answers them with the published ports' exposures, through its
mapper (`audit --jobs` in worker processes), and `detect` finds them answered.

A finding names what is wrong for one subject (a published port, a rule, a network), the rules
involved with file:line, a plain explanation, and a fix in the host's own dialect. The audit
verifies each fix by applying it to the snapshot and running the same module again: the fix is
"verified" only when the finding is gone for that subject.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from nflens.analysis.fixes import Fix

MODULES = ("input_bypass", "dead_port_rule", "unreachable", "direct_access", "egress_replies",
           "egress_host", "proxy_bypass", "persistence", "ipv6_gap", "shadowed", "no_firewall",
           "macvlan_outside", "address_bound", "ban_bypass", "ban_host_gap")
SEVERITIES = ("high", "medium", "low", "info")


@dataclass
class Finding:
    id: str
    severity: str
    title: str
    subject: str
    explanation: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    fix: Fix = field(default_factory=Fix)
    scope: set[str] | None = None  # the published ports re-analysed to verify the fix
    data: Any = None  # what the module's own `still_there` needs (not reported)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "subject": self.subject, "explanation": self.explanation, "rules": self.rules,
                "fix": self.fix.text(), "fix_verified": self.fix.verified,
                "verification": self.fix.verification}


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]
