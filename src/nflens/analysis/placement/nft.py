"""nftables hosts (no iptables table on the packets' path: Docker 29's nftables backend with
`table ip docker-bridges`, a hand-written /etc/nftables.conf, netavark's `inet netavark`): the
fix is a table of nflens's own, `table ip nflens` / `table ip6 nflens`, with one base chain per
fix at the hook where its packets pass (forward: after DNAT; input: the host's own packets).

Where Docker says user rules go (docs.docker.com/engine/network/firewall-nftables, "Replacing
DOCKER-USER with an nftables table"): "there is no DOCKER-USER chain. Instead, rules can be
added in separate tables, with base chains that have the same types and hook points as Docker's
base chains ... If your rules need to run before Docker's rules, give the base chains a lower
priority number than Docker's chain"; a mark that must beat Docker's drop "must have priority
`filter - 1` or lower". Docker's own forward chain is `filter-FORWARD` of `docker-bridges`
(moby libnetwork/drivers/bridge/internal/nftabler: dockerTable "docker-bridges", forwardChain
"filter-FORWARD", at the well-known priority `filter`). So the chains here are
`type filter hook forward|input priority filter - 1`: before Docker's and before a hand-written
`inet filter` table at `filter`. In nftables a drop in any base chain is final and an accept
only ends its own chain (nft(8) "VERDICT STATEMENT"; kernel/pipeline.py): so these chains only
*remove* packets — an accept (iptables' RETURN here) lets the other base chains decide — and
an allow a fix needs past another table's drop cannot be placed here (the fix says so).

One chain per fix (named after the finding and its subject) keeps fixes independent: an accept
of one never skips another's drop, and each fix is idempotent (`add table`, `add chain` and
`flush chain` of its own chain, then its rules), so several fixes compose in one script.

The text contract (lab appliers rely on it): a POSIX shell snippet of `#` comment lines and
commands; the nft part is one here-document `nft -f - <<'EOF'` ... `EOF` holding a
self-contained script, so `sh -e fix.sh` as root applies it. Verification parses that script
with the project's nft text reader (the real nft, in a throwaway namespace) and adds it to the
snapshot's ruleset (fixes.apply), like every iptables fix.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from nflens.analysis.fixes import Fix, iptables_table
from nflens.analysis.intent import FixRule, Where
from nflens.ir.rules import Action, Opt, XtMatch

if TYPE_CHECKING:
    from nflens.analysis.context import AuditContext

NAME = "nft"
RANK = 40
TABLE = "nflens"
PRIORITY = "filter - 1"
HOOKS = {Where.FORWARD: "forward", Where.INPUT: "input"}
HEREDOC = "nft -f - <<'EOF'"
PERSIST = ("# to keep it after a reboot: `nft list table {fam} nflens > /etc/nftables.d/nflens-"
           "{fam}.nft` and `include \"/etc/nftables.d/nflens-{fam}.nft\"` at the end of "
           "/etc/nftables.conf (after any `flush ruleset`)")
TOPICS = {
    "origdst": "the rules match ct original proto-dst, which DNAT does not rewrite",
    "ctdir": "or add `ct direction original` to the blocking rule",
    "nat-trick": "better still: drop the nat-table trick and filter on the forward hook with "
                 "ct original proto-dst, and consider userland-proxy=false in daemon.json",
}
VERDICTS = {"drop": "drop", "reject": "reject", "accept": "accept", "return": "accept"}
STATES = {"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"}
STATUSES = {"DNAT", "SNAT"}


class Unplaceable(ValueError):
    """A rule this placement cannot write (the next placement, or the fix's note, then)."""


def owns(ctx: AuditContext, fix: Fix) -> bool:
    """Every rule is a forward or input rule of a family no iptables table filters here (those
    hosts are the iptables placement's), and renders in nft."""
    try:
        for r in fix.rules:
            if r.where is Where.AT:
                if r.dialect != "nft" or r.delete or not _has_chain(ctx, r) or any(
                        t.origin.startswith("iptables") for t in ctx.host.ruleset.tables):
                    return False  # a host with iptables tables keeps its note (for now:
                    # verified on seed005's nft-priority hosts, but their outputs stay as
                    # they were until the lead decides)
            elif r.where not in HOOKS or r.family not in ("ip", "ip6") or \
                    iptables_table(ctx.host, r.family) is not None:
                return False
            words(r)
    except Unplaceable:
        return False
    return True


def _has_chain(ctx: AuditContext, rule: FixRule) -> bool:
    table = next((t for t in ctx.host.ruleset.tables if t.origin == "nft"
                  and t.family == rule.family and t.name == rule.table), None)
    return table is not None and table.chain(rule.chain) is not None


def at_line(family: str, table: str, chain: str, index: int | None, text: str) -> str:
    """A rule into the host's own chain, before the rule it must beat (nft's `index` counts
    from 0; None: at the end, before the policy). An accept there ends that chain's
    decision, which is where the packet was refused."""
    if index is None:
        return f"add rule {family} {table} {chain} {text}"
    return f"insert rule {family} {table} {chain} index {index} {text}"


def chain_name(owner: str, rule: FixRule) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in owner.split(" ", 1)[0])
    digest = hashlib.sha1(owner.encode()).hexdigest()[:8]
    return f"{slug}_{digest}_{HOOKS[rule.where][:3]}"


def script(fix: Fix, owner: str) -> list[str]:
    """The here-document's lines: tables, chains (flushed: this fix's own), rules in order."""
    head: list[str] = []
    body: list[str] = []
    for r in fix.rules:
        if r.where is Where.AT:
            continue
        chain = chain_name(owner, r)
        table = f"{r.family} {TABLE}"
        for line in (f"add table {table}",
                     f"add chain {table} {chain} {{ type filter hook {HOOKS[r.where]} "
                     f"priority {PRIORITY}; policy accept; }}",
                     f"flush chain {table} {chain}"):
            if line not in head:
                head.append(line)
        body.append(f"add rule {table} {chain} {words(r)}")
    return head + body


def realize(ctx: AuditContext, fix: Fix, owner: str) -> Fix:
    lines = script(fix, owner)
    at = [r for r in fix.rules if r.where is Where.AT]
    families = sorted({r.family for r in fix.rules if r.where is not Where.AT})
    why = "; ".join(x for x in (TOPICS.get(fix.topic, ""), fix.note) if x)
    comments = [f"# nftables: a table of nflens's own, base chains at priority {PRIORITY} "
                "(before Docker's and the host's own filter chains; a drop there is final)"]
    if not lines:
        comments = ["# nftables: into the host's own chain, before the rule that refuses it"]
    inserts = [(r.family, r.table, r.chain, r.position - 1 if r.position else None, words(r))
               for r in at]
    shown = comments + [HEREDOC, *lines, *(at_line(*i) for i in inserts), "EOF"]
    shown += [PERSIST.format(fam=f) for f in families]
    if at:
        shown.append("# to keep it: add the same rule to that chain in /etc/nftables.conf")
    shown += [f"# {line}" for line in why.splitlines()]
    return Fix(shown="\n".join(shown), nft="\n".join(lines) + "\n" if lines else "",
               rules=fix.rules, forward_only=all(r.where is Where.FORWARD for r in fix.rules),
               nft_at=inserts)


def words(rule: FixRule) -> str:
    out: list[str] = []
    for e in rule.exprs:
        if isinstance(e, Action):
            if e.name not in VERDICTS or e.opts:
                raise Unplaceable(f"action {e.name}")
            out.append(VERDICTS[e.name])
        else:
            out += _match(rule.family, e)
    return " ".join(out)


def _match(family: str, m: XtMatch) -> list[str]:
    if m.name == "ip":
        return [w for o in m.opts for w in _builtin(family, o)]
    if m.name in ("tcp", "udp"):
        return [f"{m.name} {o.name} {'!= ' if o.negated else ''}{_port(o.value)}"
                for o in m.opts if o.name in ("sport", "dport")] + _left(m, ("sport", "dport"))
    if m.name == "conntrack":
        return [w for o in m.opts for w in _conntrack(family, o)]
    raise Unplaceable(f"-m {m.name}")


def _left(m: XtMatch, known: tuple[str, ...]) -> list[str]:
    other = [o.name for o in m.opts if o.name not in known]
    if other:
        raise Unplaceable(f"-m {m.name} --{other[0]}")
    return []


def _builtin(family: str, o: Opt) -> list[str]:
    neg = "!= " if o.negated else ""
    if o.name in ("src", "dst") and family in ("ip", "ip6"):
        return [f"{family} {o.name[0]}addr {neg}{o.value}"]
    if o.name in ("in", "out"):
        name = str(o.value)
        name = name[:-1] + "*" if name.endswith("+") else name
        return [f'{"iif" if o.name == "in" else "oif"}name {neg}"{name}"']
    if o.name == "proto" and not o.negated:
        return [f"meta l4proto {o.value}"]
    raise Unplaceable(f"ip {o.name}")


def _conntrack(family: str, o: Opt) -> list[str]:
    neg = "!= " if o.negated else ""
    if o.name == "ctorigdstport":
        return [f"ct original proto-dst {neg}{_port(o.value)}"]
    if o.name == "ctorigdst" and family in ("ip", "ip6"):
        return [f"ct original {family} daddr {neg}{o.value}"]
    if o.name == "ctdir" and not o.negated:
        return [f"ct direction {str(o.value).lower()}"]
    if o.name == "ctstate":
        names = str(o.value).split(",")
        states = [n.lower() for n in names if n in STATES]
        status = [n.lower() for n in names if n in STATUSES]
        if status and (states or len(status) > 1):
            raise Unplaceable(f"--ctstate {o.value}")
        if status:
            return [f"ct status & {status[0]} == 0" if o.negated else f"ct status {status[0]}"]
        if len(states) == len(names) and not o.negated:
            return [f"ct state {','.join(states)}"]
    raise Unplaceable(f"--{o.name}")


def _port(value: Any) -> str:
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}-{hi}"
