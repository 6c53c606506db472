"""Turn the options of one ebtables rule into IR expressions, in the kernel's order.

ebt_do_table (net/bridge/netfilter/ebtables.c) evaluates an entry as: the built-in part
(ebt_basic_match), then every match, then every watcher (log/nflog, which never decide), then
the target. The expressions follow that order: XtMatch("eb"), XtMatch("eb_ip") ..., then
Action("log"/"nflog"), then the target's Action(s).

Targets:
- ACCEPT/DROP/CONTINUE/RETURN -> Action("accept"|"drop"|"continue"|"return"); no `-j` means
  CONTINUE (what ebtables-save prints for such a rule).
- a chain of the same table -> Action("jump", chain=NAME) (ebtables has no goto).
- `mark` -> Action("mark", value/mask in xt_MARK --set-xmark form, plus mode/operand) followed
  by the verdict of --mark-target (default ACCEPT), because ebt_mark.c returns that verdict.
- `dnat`/`snat` (ebt_nat.c: rewrite the destination/source MAC), `redirect` (ebt_redirect.c:
  destination MAC := the bridge's or port's own), `arpreply` (ebt_arpreply.c) -> one Action with
  `mac` and `target` (their --X-target verdict).
- anything else -> Action("xt", name=..., args=...) and an Unsupported entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nflens.dialects.ebtables import grammar as g
from nflens.ir.rules import Action, Opt, Source, Unsupported, XtMatch, opts


def build_exprs(parts, chains: Iterable[str], source: Source,
                error: Callable[[str, int], Exception]) -> tuple[list[Any], list[Unsupported]]:
    """Expressions and unsupported constructs of one rule (see the module docstring)."""
    exprs: list[Any] = []
    unsupported: list[Unsupported] = []
    for module in g.MATCH_MODULES:
        found = parts.matches.get(module)
        if found:
            ordered = sorted(found.values(), key=lambda o: g.KEY_ORDER[(module, o.name)])
            exprs.append(XtMatch(module, tuple(ordered)))
    exprs.extend(_unknown_matches(parts.unknown, source, unsupported))
    _check_requirements(parts, source, error)
    exprs.extend(_watchers(parts.watchers))
    exprs.extend(_target(parts, set(chains), source, error, unsupported))
    return exprs, unsupported


def _unknown_matches(unknown: list[tuple[str, Opt]], source: Source,
                     unsupported: list[Unsupported]) -> list[XtMatch]:
    """Group unknown options by their prefix (`--ulog-prefix` -> module "eb_ulog")."""
    groups: dict[str, list[Opt]] = {}
    for name, opt in unknown:
        stem = name.lstrip("-").split("-")[0] or "unknown"
        groups.setdefault(f"eb_{stem}", []).append(opt)
    out = []
    for module, found in groups.items():
        out.append(XtMatch(module, tuple(found)))
        names = " ".join("--" + o.name for o in found)
        unsupported.append(Unsupported(source.file, source.line, source.text.strip(),
                                       f"unknown ebtables match option(s) {names}"))
    return out


def _check_requirements(parts, source: Source, error) -> None:
    """The checkentry rules of the extensions (ebt_ip.c, ebt_arp.c ...): an extension needs the
    matching `-p`, as ebtables refuses the rule otherwise."""
    eb = parts.matches.get("eb", {})
    proto = eb.get("proto")
    need = {"eb_ip": 0x0800, "eb_ip6": 0x86DD, "eb_vlan": 0x8100, "eb_802_3": "length"}
    for module, ethertype in need.items():
        if module in parts.matches and (proto is None or proto.negated or proto.value != ethertype):
            flag = "-p LENGTH" if ethertype == "length" else f"-p 0x{ethertype:04x}"
            raise error(f"{module[3:]} options need {flag}", source.line)
    if "eb_arp" in parts.matches and (proto is None or proto.negated
                                      or proto.value not in (0x0806, 0x8035)):
        raise error("--arp-* options need -p ARP or -p RARP", source.line)


def _watchers(watchers: dict[str, dict[str, Any]]) -> list[Action]:
    out = []
    log = watchers.get("log")
    if log is not None:
        flags = tuple(f for f in ("ip", "arp", "ip6") if log.get(f))
        out.append(Action("log", opts(level=log.get("level", "notice"),
                                      prefix=log.get("prefix", ""), flags=flags)))
    nflog = watchers.get("nflog")
    if nflog is not None:
        out.append(Action("nflog", opts(group=nflog.get("group", 1),
                                        prefix=nflog.get("prefix", ""),
                                        range=nflog.get("range", 0),
                                        threshold=nflog.get("threshold", 1))))
    return out


def _verdict(word: str | None, default: str, line: int, error) -> str:
    if word is None:
        return default
    verdict = g.STANDARD_TARGETS.get(word.upper())
    if verdict is None:
        raise error(f"bad target verdict {word!r} (ACCEPT, DROP, CONTINUE or RETURN)", line)
    return verdict


def _target(parts, chains: set[str], source: Source, error,
            unsupported: list[Unsupported]) -> list[Action]:
    name = parts.target or "CONTINUE"
    own = parts.target_opts
    line = source.line
    ext = name if name in g.DEFAULT_TARGET else None
    stray = [m for m in own if m != ext]
    if stray:
        raise error(f"options of target {stray[0]!r} given with -j {name}", line)
    if name.upper() in g.STANDARD_TARGETS and name.upper() == name:
        if parts.target_args:
            raise error(f"unknown option {parts.target_args[0]!r}", line)
        return [Action(g.STANDARD_TARGETS[name])]
    if ext == "mark":
        return _mark(own.get("mark", {}), line, error)
    if ext is not None:
        return [_nat_like(ext, own.get(ext, {}), line, error)]
    if name in chains:
        if parts.target_args:
            raise error(f"unknown option {parts.target_args[0]!r}", line)
        return [Action("jump", (("chain", name),))]
    unsupported.append(Unsupported(source.file, line, source.text.strip(),
                                   f"unknown ebtables target {name!r}"))
    return [Action("xt", opts(name=name, args=tuple(parts.target_args)))]


def _mark(found: dict[str, Any], line: int, error) -> list[Action]:
    """ebt_mark.c: set/or/and/xor on skb->mark, as xt_MARK's (value, mask) xor form, which the
    chain walker applies as mark = (mark & ~mask) ^ value."""
    modes = [m for m in ("set", "or", "and", "xor") if m in found]
    if len(modes) != 1:
        raise error("-j mark needs exactly one of --mark-set/--mark-or/--mark-and/--mark-xor",
                    line)
    mode = modes[0]
    operand = found[mode]
    value, mask = {
        "set": (operand, 0xFFFFFFFF),
        "or": (operand, operand),
        "and": (0, ~operand & 0xFFFFFFFF),
        "xor": (operand, 0),
    }[mode]
    verdict = _verdict(found.get("target"), "accept", line, error)
    return [Action("mark", opts(value=value, mask=mask, mode=mode, operand=operand)),
            Action(verdict)]


def _nat_like(name: str, found: dict[str, Any], line: int, error) -> Action:
    if name in ("dnat", "snat", "arpreply") and "mac" not in found:
        option = {"dnat": "--to-dst", "snat": "--to-src", "arpreply": "--arpreply-mac"}[name]
        raise error(f"-j {name} needs {option}", line)
    verdict = _verdict(found.get("target"), g.DEFAULT_TARGET[name], line, error)
    kw: dict[str, Any] = {"target": verdict}
    if "mac" in found:
        kw["mac"] = found["mac"]
    if name == "snat":
        kw["arp"] = bool(found.get("arp"))
    return Action(name, opts(**kw))
