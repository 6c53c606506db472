"""Rule evaluation inside one base chain: jump/goto/return, policies, verdict maps.

Semantics (net/netfilter/nf_tables_core.c, net/ipv4/netfilter/ip_tables.c):
- Rules are tried in order; a rule's expressions are evaluated left to right and the first
  false match ends the rule. Non-terminal statements (counter, log, mark set) take effect and
  evaluation goes on.
- `accept` ends this *base chain* only: the packet then meets the next base chain of the same
  hook (another table, another priority). `drop` (and `reject`) ends everything.
- `jump` pushes a return point, `goto` does not; `return` (or falling off a regular chain)
  pops; falling off a base chain applies its policy.
- NAT statements (dnat, snat, masquerade, redirect) are terminal: they accept in the nat chain.

When a match evaluates to `Unknown`, the walker asks an `Oracle` what to assume (default: the
match does not match) and records the point, so `simulate` can try the other outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from nflens.ir.rules import Action, Chain, Rule, Table
from nflens.kernel import natmap, tproxy
from nflens.kernel.context import PacketContext, Unknown, describe, with_table
from nflens.kernel.index import ChainIndex
from nflens.kernel.index import build as build_index
from nflens.kernel.loops import max_nesting
from nflens.kernel.matches import entry_for
from nflens.kernel.matches._nft_common import resolve_vmap
from nflens.kernel.trace import PolicyStep, RuleStep, Step

# what a rule or action asks of the walk: None (go on), ("verdict", v), ("return" | "jump" |
# "goto", chain)
Outcome = tuple[str, Any] | None

NO_EFFECT = {"counter", "log", "nflog", "trace", "comment"}  # neither verdict nor packet state
NON_TERMINAL = {"counter", "log", "nflog", "trace", "tcpmss", "checksum", "comment", "limit",
                "quota", "notrack", "ct", "mark", "connmark", "continue", "mangle", "dup",
                "set", "synproxy", "audit", "classify", "dscp", "tos", "ttl", "hl",
                # iptables targets returning XT_CONTINUE (dialects/iptables/targets.CONTINUES)
                "ecn", "tcpoptstrip", "connsecmark", "secmark", "idletimer", "rateest", "led"}


@dataclass
class Oracle:
    """Assumptions for matches the model cannot decide, keyed by where they are.

    `choices` maps a point key to the assumed boolean; `seen` collects (key, reason) of every
    unknown met in this run, so the caller can re-run with other choices.
    """

    choices: dict[str, bool] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)

    def decide(self, key: str, reason: str) -> bool:
        self.seen.setdefault(key, reason)
        return self.choices.get(key, False)


@dataclass(frozen=True)
class RuleRef:
    family: str
    table: str
    chain: str
    index: int  # 1-based position in its chain
    rule: Rule

    def to_json(self) -> dict[str, Any]:
        src = self.rule.source
        return {"family": self.family, "table": self.table, "chain": self.chain,
                "rule": self.rule.text, "index": self.index,
                "file": src.file if src else None, "line": src.line if src else None}


@dataclass
class ChainResult:
    """What one base chain decided. `verdict`: accept, drop, reject, queue.
    `by`: the rule that decided (None for a policy or an empty fall-through).
    `nat`: the NAT action chosen (nat chains). `ctx`: the context after mark changes.
    `notrack`: the raw-table NOTRACK/CT --notrack was applied."""

    verdict: str
    by: RuleRef | None
    ctx: PacketContext
    nat: Action | None = None
    nat_by: RuleRef | None = None
    notrack: bool = False
    reject_with: str | None = None
    ct_mark: int | None = None
    unmodelled: list[str] = field(default_factory=list)
    tproxy: Any = None  # the local socket a TPROXY divert assigned (kernel/tproxy.py)
    assumed: list[str] = field(default_factory=list)


class ChainWalker:
    """Evaluates base chains of one table for one packet context, writing RuleSteps to a trace."""

    def __init__(self, table: Table, oracle: Oracle, trace: list[Step], direction: str,
                 phase: str, indexes: dict[int, ChainIndex | None] | None = None):
        self.indexes = indexes
        self.table = table
        self.oracle = oracle
        self.trace = trace
        self.direction = direction
        self.phase = phase

    def run(self, chain: Chain, ctx: PacketContext) -> ChainResult:
        # nft set references are resolved per table: matches find ("table", name) in ctx.extra
        if not ctx.extra or ctx.extra[-1] != ("table", self.table.name):
            ctx = with_table(ctx, self.table.name)
        result = ChainResult("accept", None, ctx)
        stack: list[tuple[Chain, list[int] | None, int]] = []
        current, cands, k = chain, self._candidates(chain, ctx), 0
        nesting = max_nesting(self.table)  # the kernel bounds nesting, not the count of jumps
        while True:
            total = len(cands) if cands is not None else len(current.rules)
            if k >= total:
                self._skipped(current, cands, k, len(current.rules))
                if stack and current.policy in ("accept", "drop"):
                    # ebtables user chains carry their own policy (ebtables(8) -P on a user chain)
                    self._note_policy(current)
                    result.verdict = current.policy
                    return result
                if stack:  # fell off a regular chain: implicit return
                    current, cands, k = stack.pop()
                    continue
                # the end of the base chain, or of a chain reached from it by goto only:
                # nothing to return to, so the base chain's policy decides (found by fuzzing)
                if chain.policy:
                    self._note_policy(chain)
                    result.verdict = chain.policy
                return result
            index = cands[k] if cands is not None else k
            self._skipped(current, cands, k, index)
            k += 1
            rule = current.rules[index]
            ref = self._ref(current, index, rule)
            outcome = self._rule(rule, ref, result)
            if outcome is None:
                continue
            kind, arg = outcome
            if kind == "verdict":
                return result
            if kind == "return":
                if not stack:
                    if chain.policy:
                        self._note_policy(chain)
                        result.verdict = chain.policy
                    return result
                current, cands, k = stack.pop()
            elif kind in ("jump", "goto"):
                target = self._target(kind, arg, ref, len(stack), nesting, result)
                if target is None:
                    if result.by is ref:  # the walk ended here (see _target)
                        return result
                    continue
                if kind == "jump":
                    stack.append((current, cands, k))
                current, cands, k = target, self._candidates(target, ctx), 0

    def _ref(self, chain: Chain, index: int, rule: Rule) -> RuleRef:
        """The rule's RuleRef, made once per rule rather than at every walk over it (a frozen
        dataclass costs a setattr per field). Remembered by the chain's identity, the chain
        and table kept beside the refs so the id stays theirs; a rule replaced in place since
        gets a new ref."""
        kept = _REFS.get(id(chain))
        if kept is None or kept[0] is not chain or kept[1] is not self.table:
            if len(_REFS) >= 8192:
                _REFS.clear()
            kept = _REFS[id(chain)] = (chain, self.table, {})
        ref = kept[2].get(index)
        if ref is None or ref.rule is not rule:
            ref = kept[2][index] = RuleRef(self.table.family, self.table.name, chain.name,
                                           index + 1, rule)
        return ref

    def _target(self, kind: str, name: str, ref: RuleRef, depth: int, nesting: int,
                result: ChainResult) -> Chain | None:
        """The chain a jump/goto enters; None when it does not enter one, having either ended
        the walk (`result.by` is this rule then) or decided to go on after the rule."""
        target = self.table.chain(name)
        if target is None:
            # iptables-restore and nft refuse this; a file can still say it. What the chain
            # would do is unknown: explored like an unmodelled target.
            self._unknown_drops(ref, "missing", f"{kind} to missing chain {name!r}", result)
            return None
        if kind == "jump" and depth >= nesting:
            # nft_do_chain drops a packet whose jump would overflow its stack (loops.py refuses
            # such rulesets first, as the kernel's loader does; this guards IR built by hand)
            result.unmodelled.append(f"jump to {name!r} nested too deep (more than {nesting} "
                                     f"return points): dropped, as nft_do_chain does "
                                     f"[{_where(ref)}]")
            result.verdict, result.by = "drop", ref
            return None
        return target

    def _candidates(self, chain: Chain, ctx: PacketContext) -> list[int] | None:
        """Positions of the rules that can match this packet (None: all of them)."""
        if self.indexes is None:
            return None
        key = id(chain)
        if key not in self.indexes:
            self.indexes[key] = build_index(chain)
        idx = self.indexes[key]
        return idx.candidates(ctx) if idx is not None else None

    def _skipped(self, chain: Chain, cands: list[int] | None, k: int, upto: int) -> None:
        """One trace step for the rules the index skipped before position `upto`."""
        if cands is None:
            return
        start = cands[k - 1] + 1 if k > 0 else 0
        if upto > start:
            self.trace.append(RuleStep(
                self.direction, self.phase, self.table.family, self.table.name, chain.name,
                start + 1, f"rules {start + 1}-{upto}: require another destination address, "
                "port or device (skipped by the index)", "", 0, False, "", "", upto - start))

    def _note_policy(self, chain: Chain) -> None:
        self.trace.append(PolicyStep(self.direction, self.phase, self.table.family,
                                     self.table.name, chain.name, chain.policy or "accept"))

    def _rule(self, rule: Rule, ref: RuleRef, result: ChainResult) -> Outcome:
        """Evaluate one rule. Returns None (go on), ("verdict", v), ("return", _), ("jump", c)."""
        notes: list[str] = []
        for pos, expr in enumerate(rule.exprs):
            if isinstance(expr, Action):
                outcome = self._action(expr, ref, result, notes)
                if outcome is not None and outcome[0] == "break":  # NFT_BREAK: rule ends
                    self._step(ref, False, "", notes)
                    return None
                if outcome is not None:
                    self._step(ref, True, _describe(expr), notes)
                    return outcome
                continue
            value = _evaluate(expr, result.ctx)
            if isinstance(value, Unknown):
                value = self._unknown_match(rule, ref, pos, value, result.ctx, notes)
            if not value:
                undecided = notes and notes[-1].startswith(("assumed", "either way"))
                self._step(ref, "unknown" if undecided else False, "", notes)
                return None
        self._step(ref, True, "continue", notes)
        return None

    def _unknown_match(self, rule: Rule, ref: RuleRef, pos: int, value: Unknown,
                       ctx: PacketContext, notes: list[str]) -> bool:
        """A match the model cannot decide. It needs no assumption when its outcome cannot
        change anything: the rule has no effect (only counters and logs), or a later match of
        the rule fails anyway (matches are a conjunction, evaluated without side effects
        here). Otherwise the oracle decides, and `simulate` explores both outcomes."""
        if all(a.name in NO_EFFECT for a in rule.actions):
            notes.append(f"either way (the rule only counts or logs): {value.reason}")
            return False
        for later in rule.exprs[pos + 1:]:
            if isinstance(later, Action):
                break
            if _evaluate(later, ctx) is False:
                notes.append(f"either way (a later match fails): {value.reason}")
                return False
        choice = self.oracle.decide(f"{_key(ref)}/{pos}", f"{value.reason} [{_where(ref)}]")
        notes.append(f"assumed {'match' if choice else 'no match'}: {value.reason}")
        return choice

    def _action(self, action: Action, ref: RuleRef, result: ChainResult,
                notes: list[str]) -> Outcome:
        name = action.name
        if name == "vmap":
            return self._vmap(action, ref, result, notes)
        if name == "reject" and not _reject_applies(action.get("with"), result.ctx,
                                                    self.table.family):
            notes.append(f"{_describe(action)} does not apply to this packet (implicit "
                         "protocol dependency)")
            return None
        if name in ("accept", "drop", "reject", "queue"):
            result.verdict = name
            result.by = ref
            if name == "reject":
                result.reject_with = action.get("with") or "icmp-port-unreachable"
            if name == "queue" and self.oracle.decide(
                    f"{_key(ref)}/queue", f"NFQUEUE verdict decided in userspace [{_where(ref)}]"):
                notes.append("assumed: the queue's program accepts")
                result.verdict, result.by = "accept", ref
                return ("verdict", "accept")
            return ("verdict", name)
        if name in ("dnat", "snat", "masquerade", "redirect"):
            return self._nat(action, ref, result, notes)
        if name in ("return", "jump", "goto"):
            return (name, action.get("chain"))
        if name == "mark":
            self._set_mark(action, result)
            return None
        if name == "tproxy":
            return self._tproxy(action, ref, result, notes)
        if name == "connmark":
            self._connmark(action, result, notes)
            return None
        if name in ("notrack",) or (name == "ct" and action.get("notrack")):
            result.notrack = True
            return None
        if name in NON_TERMINAL:
            return None
        # An unmodelled target might end the packet's journey (a custom drop, a queue) or not:
        # the oracle decides, so `simulate` can try both and say `uncertain` if it matters.
        what = f"target {_describe(action)} is not modelled"
        if self._unknown_drops(ref, "target", what, result, notes):
            return ("verdict", "drop")
        return None

    def _nat(self, action: Action, ref: RuleRef, result: ChainResult,
             notes: list[str]) -> Outcome:
        """A NAT statement ends the nat chain; one whose address or port comes from a map is
        first made concrete for this packet (kernel/natmap.py)."""
        if action.get("addr_expr") is not None or action.get("port_expr") is not None:
            picked = natmap.concrete(action, result.ctx, self._chooser(ref))
            if picked is None:
                notes.append("the NAT map has no element for this packet (the rule breaks)")
                return ("break", None)
            if isinstance(picked, Unknown):
                return self._unknown_outcome(ref, "nat", picked.reason, result, notes)
            notes.append(f"the map gave {_describe(picked)}")
            action = picked
        result.verdict, result.by, result.nat, result.nat_by = "accept", ref, action, ref
        return ("verdict", "accept")

    def _tproxy(self, action: Action, ref: RuleRef, result: ChainResult,
                notes: list[str]) -> Outcome:
        """A TPROXY divert (kernel/tproxy.py): iptables' target accepts or drops, nft's
        statement goes on or breaks the rule."""
        terminal = bool(action.get("terminal"))
        sock = tproxy.lookup(action, result.ctx)
        if isinstance(sock, Unknown):
            return self._unknown_outcome(ref, "tproxy", sock.reason, result, notes)
        if sock is None:
            notes.append("TPROXY: no listener on the divert port")
            if terminal:
                result.verdict, result.by = "drop", ref
                return ("verdict", "drop")
            return ("break", None)
        result.tproxy = sock
        result.assumed.append(f"the TPROXY listener {sock.addr}:{sock.port}/{sock.proto} is "
                              "transparent (IP_TRANSPARENT; ss does not show it) "
                              f"[{_where(ref)}]")
        notes.append(f"TPROXY: socket {sock.addr}:{sock.port} assigned")
        if not terminal:
            return None
        if action.get("mark") is not None:
            self._set_mark(Action("mark", (("mask", action.get("mask", 0xFFFFFFFF)),
                                           ("value", action.get("mark")))), result)
        result.verdict, result.by = "accept", ref
        return ("verdict", "accept")

    def _chooser(self, ref: RuleRef) -> natmap.Choose:
        """One of n values, through the oracle's yes/no points: value i is taken when the
        points 0..i-1 said no and point i says yes (the default, no, everywhere: value 0)."""
        def choose(point: str, reason: str, n: int) -> int:
            where = f"{reason} [{_where(ref)}]"
            for i in range(n - 1):
                if not self.oracle.decide(f"{_key(ref)}/{point}/{i}", where):
                    return i
            return n - 1
        return choose

    def _unknown_outcome(self, ref: RuleRef, point: str, what: str, result: ChainResult,
                         notes: list[str]) -> Outcome:
        """`_unknown_drops` as the walk's outcome: the drop verdict, or go on."""
        if self._unknown_drops(ref, point, what, result, notes):
            return ("verdict", "drop")
        return None

    def _unknown_drops(self, ref: RuleRef, point: str, what: str, result: ChainResult,
                       notes: list[str] | None = None) -> bool:
        """Something whose effect the model does not know: the oracle assumes it continues
        (default) or drops, and `simulate` explores both."""
        drops = self.oracle.decide(f"{_key(ref)}/{point}", f"{what} [{_where(ref)}]")
        if notes is not None:
            notes.append(f"assumed: {'drops' if drops else 'continues'} ({what})")
        if drops:
            result.verdict, result.by = "drop", ref
        return drops

    def _set_mark(self, action: Action, result: ChainResult) -> None:
        value, mask = action.get("value", 0) or 0, action.get("mask", 0xFFFFFFFF)
        if isinstance(value, int) and isinstance(mask, int):
            mark = (result.ctx.mark & ~mask & 0xFFFFFFFF) ^ value
            result.ctx = replace(result.ctx, mark=mark)
        else:
            result.unmodelled.append(f"mark set to an expression ({describe(value)}): the mark "
                                     "is left as it was")
        return None

    def _connmark(self, action: Action, result: ChainResult, notes: list[str]) -> None:
        mode = action.get("mode", "set")
        ct = result.ctx.ct
        if mode == "restore" and ct is not None:
            mask = action.get("nfmask", action.get("mask", 0xFFFFFFFF))
            mark = (result.ctx.mark & ~mask & 0xFFFFFFFF) | (ct.mark & mask)
            result.ctx = replace(result.ctx, mark=mark)
        elif mode == "save" and ct is not None:
            result.ct_mark = result.ctx.mark
            result.ctx = replace(result.ctx, ct=replace(ct, mark=result.ctx.mark))
        elif mode == "set" and ct is not None:
            value, mask = action.get("value", 0) or 0, action.get("mask", 0xFFFFFFFF)
            if isinstance(value, int):
                mark = (ct.mark & ~mask & 0xFFFFFFFF) ^ value
                result.ct_mark = mark
                result.ctx = replace(result.ctx, ct=replace(ct, mark=mark))
        return None

    def _vmap(self, action: Action, ref: RuleRef, result: ChainResult,
              notes: list[str]) -> Outcome:
        picked = resolve_vmap(action, result.ctx)
        if isinstance(picked, Unknown):
            return self._unknown_outcome(ref, "vmap", picked.reason, result, notes)
        if picked is None:
            notes.append("no map element matched")
            return None
        notes.append(f"map picked {_describe(picked)}")
        return self._action(picked, ref, result, notes)

    def _step(self, ref: RuleRef, matched: bool | str, action: str, notes: list[str]) -> None:
        src = ref.rule.source
        self.trace.append(RuleStep(
            self.direction, self.phase, ref.family, ref.table, ref.chain, ref.index,
            ref.rule.text, src.file if src else "", src.line if src else 0, matched, action,
            "; ".join(notes)))


_REFS: dict[int, tuple[Chain, Table, dict[int, RuleRef]]] = {}


def _evaluate(expr: Any, ctx: PacketContext) -> Any:
    entry = entry_for(expr)
    if entry is None:  # no grammar knows it (the parser reported it where it read it)
        return Unknown(f"match {getattr(expr, 'name', getattr(expr, 'kind', '?'))} is not "
                       "modelled")
    return entry.evaluate(expr, ctx)  # an exception here is a bug: let it surface


def _key(ref: RuleRef) -> str:
    return f"{ref.family}/{ref.table}/{ref.chain}/{ref.index}"


def _where(ref: RuleRef) -> str:
    src = ref.rule.source
    if src:
        return f"{src.file}:{src.line}"
    return f"{ref.family} {ref.table} {ref.chain} #{ref.index}"


def _describe(action: Action) -> str:
    """The action as a matched rule's step names it. Every matched rule of every walk is
    described, and a ruleset's actions are few and frozen: the texts are remembered by the
    action's identity (the action kept beside its text, so its id stays its own)."""
    kept = _DESCRIBED.get(id(action))
    if kept is not None and kept[0] is action:
        return kept[1]
    if not action.opts:
        text = action.name
    else:
        text = f"{action.name} " + " ".join(f"{k}={_short(v)}" for k, v in action.opts)
    if len(_DESCRIBED) >= 65536:
        _DESCRIBED.clear()
    _DESCRIBED[id(action)] = (action, text)
    return text


_DESCRIBED: dict[int, tuple[Action, str]] = {}


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}-{value[1]}"
    return str(value)


def _reject_applies(how: Any, ctx: PacketContext, family: str) -> bool:
    """nft adds a hidden dependency to some rejects and `nft list` drops it again: `reject
    with tcp reset` carries `meta l4proto tcp`, `reject with icmp ...` / `icmpv6 ...` carry
    the family (meta nfproto in inet). The JSON shows only the reject, so the dependency is
    restored here; a packet it does not fit goes on to the next rule (found by fuzzing).
    iptables cannot express the mismatch at all (`-p tcp` is required for tcp-reset)."""
    pkt = ctx.pkt
    if pkt is None or not isinstance(how, str):
        return True
    if how == "tcp-reset":
        return pkt.proto == "tcp"
    if family in ("inet", "bridge", "netdev"):  # ip/ip6 tables see one family anyway
        if how.startswith("icmpv6-"):
            return pkt.family == 6
        if how.startswith("icmp-"):
            return pkt.family == 4
    return True
