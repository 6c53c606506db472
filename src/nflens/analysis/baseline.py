"""Answers a script can act on (issue 29.5): a stable fingerprint per finding, a baseline of
accepted findings, the severity gate of `--fail-on`, and the grouping of findings that share one
cause. Pure functions over the findings as `audit --json` prints them; the CLI reads and writes
the files (cli/gate.py).

Why a fingerprint and not the finding itself: an accepted finding must stay accepted when the
ruleset around it changes in ways that do not touch it. A rule inserted above moves every line
number (`rules[].line`) and every index in the explanation (`DOCKER-USER #120`); `iptables-save -c`
and nft's `counter packets N bytes M` change on every dump. So the fingerprint hashes only what
names the finding: its id, its subject (the published port, rule or network it is about) and the
texts and owners of the rules involved, with counters taken out. Severity is left out too: an
accepted finding is the same finding when a later version rates it differently.

The baseline file (written by `--write-baseline`, read by `--baseline`):

    {"nflens_baseline": 1,
     "findings": [{"fingerprint": "f1d2...", "id": "unreachable-published-port",
                   "severity": "medium", "subject": "tcp/0.0.0.0:20115->c115:80",
                   "title": "...", "host": "web-1"}]}

Only `fingerprint` is read; the rest is there for the person reviewing the file. `host` is
written by `fleet audit --write-baseline`: such an entry accepts the finding on that host only;
an entry without it accepts the finding on every host (and `nflens audit` reads every entry).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from nflens.analysis.findings import SEVERITIES
from nflens.errors import ParseError
from nflens.safejson import element_line, loads

FORMAT = 1
FORMAT_KEY = "nflens_baseline"
# `iptables-save -c` puts `[packets:bytes] ` before a rule; nft text and JSON carry
# `counter packets N bytes M`: both change on every dump of the same rule.
_XT_COUNTERS = re.compile(r"^\[\d+:\d+\]\s*")
_NFT_COUNTERS = re.compile(r"\bcounter packets \d+ bytes \d+")
# Findings whose rules are a sample, not what the finding is about: `not-persistent` lists the
# first five of the admin's rules kept in memory only; one more rule is the same finding.
RULES_ARE_EXAMPLES = frozenset({"not-persistent"})


def _rule_text(text: str) -> str:
    return _NFT_COUNTERS.sub("counter", _XT_COUNTERS.sub("", text.strip()))


def fingerprint(finding: dict[str, Any]) -> str:
    """A hex digest of id, subject and the rules' texts and owners (not their lines, not
    counters): equal for the same finding across dumps of a host whose rules moved."""
    examples = finding.get("id") in RULES_ARE_EXAMPLES
    rules = [] if examples else sorted(
        {(r.get("file", ""), _rule_text(str(r.get("text", ""))), r.get("owner", ""))
         for r in finding.get("rules", [])})
    key = json.dumps([finding.get("id"), finding.get("subject"), rules], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def at_or_above(findings: Iterable[dict[str, Any]], level: str) -> list[dict[str, Any]]:
    """The findings of severity `level` or worse (`--fail-on level`); an unknown severity
    counts as the worst, so it can never slip through a gate."""
    limit = SEVERITIES.index(level)
    return [f for f in findings if f.get("severity") not in SEVERITIES
            or SEVERITIES.index(f["severity"]) <= limit]


def document(findings: Iterable[dict[str, Any]], host: str | None = None) -> list[dict[str, Any]]:
    """Baseline entries for `findings` (of one host when `host` is given)."""
    out = []
    for f in findings:
        entry = {"fingerprint": fingerprint(f), "id": f.get("id"), "severity": f.get("severity"),
                 "subject": f.get("subject"), "title": f.get("title")}
        if host is not None:
            entry["host"] = host
        out.append(entry)
    return out


def baseline_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps({FORMAT_KEY: FORMAT, "findings": entries}, indent=1) + "\n"


class Baseline:
    """The accepted fingerprints: for every host, and per host."""

    def __init__(self, entries: Iterable[dict[str, Any]] = ()):
        self.anywhere: set[str] = set()
        self.per_host: dict[str, set[str]] = defaultdict(set)
        for e in entries:
            host = e.get("host")
            (self.anywhere if host is None else self.per_host[host]).add(e["fingerprint"])

    def accepts(self, finding: dict[str, Any], host: str | None = None) -> bool:
        """`host` None (`nflens audit`, a single snapshot): every entry counts."""
        fp = fingerprint(finding)
        if fp in self.anywhere:
            return True
        if host is None:
            return any(fp in fps for fps in self.per_host.values())
        return fp in self.per_host.get(host, set())

    def leave_out(self, findings: list[dict[str, Any]], host: str | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
        """(the findings not accepted, how many were left out)."""
        kept = [f for f in findings if not self.accepts(f, host)]
        return kept, len(findings) - len(kept)


def parse(text: str, file: str) -> Baseline:
    """A baseline file's text, or ParseError(FILE[:LINE]: what is wrong)."""
    data = loads(text, file, "not a baseline file (invalid JSON)")
    if not isinstance(data, dict) or FORMAT_KEY not in data:
        raise ParseError(f"not a baseline file: expected an object with \"{FORMAT_KEY}\": "
                         f"{FORMAT} (written by `nflens audit --write-baseline`)", file, 1)
    if data[FORMAT_KEY] != FORMAT:
        raise ParseError(f"baseline format {data[FORMAT_KEY]!r} is not supported (only {FORMAT})",
                         file, 1)
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise ParseError("\"findings\" must be a list", file, 1)
    for n, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("fingerprint"), str):
            raise ParseError(f"findings[{n}]: an object with a \"fingerprint\" string expected",
                             file, _line_of(text, n))
        if "host" in e and not isinstance(e["host"], str):
            raise ParseError(f"findings[{n}]: \"host\" must be a string", file, _line_of(text, n))
    return Baseline(entries)


def _line_of(text: str, index: int) -> int | None:
    """The line where element `index` of the "findings" list starts (None: not found)."""
    key = text.find('"findings"')
    bracket = text.find("[", key) if key >= 0 else -1
    if bracket < 0:
        return None
    line = element_line(text[bracket:], index)
    return None if line is None else line + text.count("\n", 0, bracket)


def group_causes(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark findings that share one cause: the same id and the very same rules (file, line,
    text), two or more of them. Each such finding gets `"cause": {"key", "findings"}` (the key
    is equal within one output and names the id); the others get no `cause` key. Recomputed
    from scratch, so it may run again after a baseline left some findings out."""
    by_cause: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        f.pop("cause", None)
        if f.get("rules"):
            rules = [(r.get("file"), r.get("line"), r.get("text")) for r in f["rules"]]
            digest = hashlib.sha256(json.dumps(rules).encode()).hexdigest()[:12]
            by_cause[f"{f.get('id')}@{digest}"].append(f)
    for key, members in by_cause.items():
        if len(members) > 1:
            for f in members:
                f["cause"] = {"key": key, "findings": len(members)}
    return findings
