"""The compiled policy as native nftables: one table `inet nflens` of its own.

Why a table of its own: nft evaluates every base chain registered at a hook, each table's in
priority order, and a `drop` anywhere is final while an `accept` only ends that base chain
(nft(8), "VERDICT STATEMENT"). So a separate table can only narrow what Docker's tables
(iptables-nft's, or Docker 29's `ip docker-bridges` with `firewall-backend: nftables`) allow —
exactly the policy's semantics (allow = return, deny = drop) — and it can be replaced without
touching them. The forward and input base chains sit at priority filter - 5, before Docker's
filter chains (priority 0), after conntrack and nat prerouting's DNAT (-200 / -100), so
`ct original proto-dst` already holds the published port.

Docker 29's nftables backend does not offer DOCKER-USER; to *accept* what Docker would drop it
documents a firewall mark (`bridge-accept-fwmark`). The policy never widens Docker's decisions,
so it needs no mark; the table simply coexists.

The JSON is libnftables-json(5): the list form for the simulator (nflens's own parser reads it),
wrapped in add/delete commands for `nft -j -f` — one file, one transaction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from nflens.dialects.nft import parse_json
from nflens.ir.host import Host
from nflens.policy.model import Compiled, PRule

FAMILY, TABLE = "inet", "nflens"
PRIORITY = -5
BASE = {"forward": "forward", "input": "input"}  # chain -> hook (the others are regular)


def _addr(net) -> Any:
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _match(left: dict, right: Any, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def rule_exprs(r: PRule) -> list[dict]:
    e: list[dict] = []
    for key, iface, neg in (("iifname", r.iif, r.iif_neg), ("oifname", r.oif, r.oif_neg)):
        if iface:
            e.append(_match({"meta": {"key": key}}, iface, "!=" if neg else "=="))
    for field, net in (("saddr", r.src), ("daddr", r.dst)):
        if net is not None:
            proto = "ip" if net.version == 4 else "ip6"
            e.append(_match({"payload": {"protocol": proto, "field": field}}, _addr(net)))
    if r.proto and r.dport is not None:  # `tcp dport` carries the l4proto dependency itself
        e.append(_match({"payload": {"protocol": r.proto, "field": "dport"}}, r.dport))
    elif r.proto:
        e.append(_match({"meta": {"key": "l4proto"}}, r.proto))
    if r.orig_dport is not None:
        e.append(_match({"ct": {"key": "proto-dst", "dir": "original"}}, r.orig_dport))
    if r.ctstate:
        e.append(_match({"ct": {"key": "state"}}, list(r.ctstate), "in"))
    verb, _, target = r.verdict.partition(" ")
    e.append({"jump": {"target": target}} if verb == "jump" else {verb: None})
    return e


def objects(compiled: Compiled) -> list[dict]:
    """The table, its chains and rules as `nft -j list ruleset` would list them."""
    out: list[dict] = [{"table": {"family": FAMILY, "name": TABLE}}]
    for chain in ("forward", "inbound", "egress", "input"):
        body: dict[str, Any] = {"family": FAMILY, "table": TABLE, "name": chain}
        if chain in BASE:
            body.update(type="filter", hook=BASE[chain], prio=PRIORITY, policy="accept")
        out.append({"chain": body})
    for r in compiled.rules:
        rule: dict[str, Any] = {"family": FAMILY, "table": TABLE, "chain": r.chain,
                                "expr": rule_exprs(r)}
        if r.comment:
            rule["comment"] = ("nflens: " + r.comment)[:120]
        out.append({"rule": rule})
    return out


def transaction(compiled: Compiled) -> str:
    """`nft -j -f` input that replaces the table atomically: add (so delete cannot fail),
    delete, then add everything back."""
    table = {"table": {"family": FAMILY, "name": TABLE}}
    cmds = [{"add": table}, {"delete": table}] + [{"add": o} for o in objects(compiled)]
    return json.dumps({"nftables": cmds}, indent=1) + "\n"


def with_policy(host: Host, compiled: Compiled) -> Host:
    doc = json.dumps({"nftables": objects(compiled)})
    new = parse_json(doc, "<policy nft>").tables[0]
    tables = [t for t in host.ruleset.tables
              if not (t.family == FAMILY and t.name == TABLE and t.origin == "nft")]
    return replace(host, ruleset=replace(host.ruleset, tables=tuple(tables) + (new,)))


def current_text(host: Host) -> list[str]:
    """The existing nflens table's rules as text lines (empty when there is none)."""
    t = host.ruleset.table(FAMILY, TABLE)
    if t is None or t.origin != "nft":
        return []
    return [f"{c.name}: {r.text}" for c in t.chains for r in c.rules]
