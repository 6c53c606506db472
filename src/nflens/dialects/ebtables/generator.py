"""Generate ebtables-restore input from the IR (only `bridge` tables of ebtables origin/shape).

The output is what ebtables-save prints, without counters unless asked: `*table`, `:CHAIN POLICY`
lines, then `-A CHAIN options -j TARGET`. Matches print in the grammar's canonical order, so
generate(parse(x)) is stable and parse(generate(r)) == r up to sources.
"""

from __future__ import annotations

from nflens.dialects.ebtables import grammar as g
from nflens.dialects.ebtables import values as v
from nflens.errors import DialectError
from nflens.ir.rules import Action, Chain, Rule, Ruleset, Table, XtMatch

_VERDICT_WORD = {verdict: word for word, verdict in g.STANDARD_TARGETS.items()}
_TARGET_OPTION = {"dnat": ("--to-dst", "--dnat-target"), "snat": ("--to-src", "--snat-target"),
                  "redirect": (None, "--redirect-target"),
                  "arpreply": ("--arpreply-mac", "--arpreply-target")}
_MARK_OPTION = {"set": "--mark-set", "or": "--mark-or", "and": "--mark-and", "xor": "--mark-xor"}


def generate(ruleset: Ruleset, counters: bool = False) -> str:
    """ebtables-restore input for every bridge table of `ruleset` (other families are skipped)."""
    out: list[str] = []
    for table in ruleset.tables:
        if table.family != "bridge":
            continue
        out.extend(_table(table, counters))
    return "\n".join(out) + ("\n" if out else "")


def _table(table: Table, counters: bool) -> list[str]:
    if table.name not in ("filter", "nat", "broute"):
        raise DialectError(f"ebtables has no table {table.name!r}")
    lines = [f"*{table.name}"]
    for chain in table.chains:
        lines.append(f":{chain.name} {_policy(chain)}")
    for chain in table.chains:
        for rule in chain.rules:
            text = f"-A {chain.name} {rule_text(rule)}".rstrip()
            if counters and rule.counters:
                text = f"[{rule.counters[0]}:{rule.counters[1]}] {text}"
            lines.append(text)
    return lines


def _policy(chain: Chain) -> str:
    if chain.policy is None:
        return "RETURN"
    return _VERDICT_WORD.get(chain.policy, chain.policy.upper())


def rule_text(rule: Rule) -> str:
    """The options of one rule, as `ebtables -A CHAIN` takes them."""
    words: list[str] = []
    actions = [e for e in rule.exprs if isinstance(e, Action)]
    for expr in rule.exprs:
        if isinstance(expr, XtMatch):
            words.extend(_match(expr))
        elif not isinstance(expr, Action):
            raise DialectError(f"ebtables cannot express {type(expr).__name__}")
    watchers = [a for a in actions if a.name in g.WATCHERS]
    for action in watchers:
        words.extend(_watcher(action))
    words.extend(_target([a for a in actions if a.name not in g.WATCHERS]))
    return " ".join(words)


def _match(match: XtMatch) -> list[str]:
    words: list[str] = []
    for opt in match.opts:
        spec = g.SPEC_OF.get((match.name, opt.name))
        if spec is None:  # an unknown option kept verbatim
            words.extend((["!"] if opt.negated else []) + [f"--{opt.name}"])
            if opt.value is not None:
                words.extend(str(opt.value).split())
            continue
        if opt.negated:
            words.append("!")
        words.append(spec.names[0])
        if spec.parse is not None:
            words.append(_word(spec.fmt(opt.value)))
    return words


def _word(text: str) -> str:
    """Quote a value only when it needs it (a space), as ebtables-save does."""
    if text.startswith('"') or (text and not any(c.isspace() for c in text)):
        return text
    return v.quote(text)


def _watcher(action: Action) -> list[str]:
    if action.name == "log":
        words = ["--log-level", action.get("level", "notice"),
                 "--log-prefix", v.quote(action.get("prefix", ""))]
        words += [f"--log-{f}" for f in action.get("flags", ())]
        return words
    words = ["--nflog-group", str(action.get("group", 1))]
    if action.get("prefix"):
        words += ["--nflog-prefix", v.quote(action.get("prefix"))]
    if action.get("range"):
        words += ["--nflog-range", str(action.get("range"))]
    if action.get("threshold", 1) != 1:
        words += ["--nflog-threshold", str(action.get("threshold"))]
    return words


def _target(actions: list[Action]) -> list[str]:
    if not actions:
        return ["-j", "CONTINUE"]
    first = actions[0]
    if first.name in _VERDICT_WORD and len(actions) == 1:
        return ["-j", _VERDICT_WORD[first.name]]
    if first.name == "jump" and len(actions) == 1:
        return ["-j", v.quote(str(first.get("chain")))]
    if first.name == "mark":
        verdict = actions[1].name if len(actions) > 1 else "accept"
        return ["-j", "mark", _MARK_OPTION[first.get("mode", "set")],
                f"0x{first.get('operand', first.get('value', 0)):x}",
                "--mark-target", _VERDICT_WORD[verdict]]
    if first.name in _TARGET_OPTION and len(actions) == 1:
        return _nat_like(first)
    if first.name == "xt" and len(actions) == 1:
        return (["-j", v.quote(str(first.get("name")))]
                + [v.quote(str(a)) for a in first.get("args", ())])
    raise DialectError(f"ebtables cannot express the actions {[a.name for a in actions]}")


def _nat_like(action: Action) -> list[str]:
    mac_opt, target_opt = _TARGET_OPTION[action.name]
    words = ["-j", action.name]
    if mac_opt:
        words += [mac_opt, str(action.get("mac"))]
    if action.name == "snat" and action.get("arp"):
        words.append("--snat-arp")
    words += [target_opt, _VERDICT_WORD[action.get("target", g.DEFAULT_TARGET[action.name])]]
    return words

