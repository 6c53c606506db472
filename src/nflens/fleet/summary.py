"""The fleet's answers, a pure function of the host records: which hosts expose which ports (and
to the internet), which findings are where, which hosts differ from the others of their group,
and what changed since an earlier run.

Two views of one exposure:
- exact (`exposure_items`): port, ingress interface and the minimal source CIDRs, as `nflens audit`
  says them; the diff against an earlier run of the same host uses it;
- coarse (`signature`): port, interface and a reach class (internet / local / none). Hosts of one
  role have their own addresses in their source lists, so comparing hosts with each other uses the
  reach class, not the CIDRs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from nflens.analysis.space import reaches_internet


def _reach(sources: list[str]) -> str:
    if not sources:
        return "none"
    return "internet" if reaches_internet(sources) else "local"


def _port(e: dict[str, Any]) -> str:
    return f"{e.get('proto')}/{e.get('host_port')}"


def signature(record: dict[str, Any]) -> frozenset[str]:
    """The host's exposure, coarse: 'tcp/8080 eth1 internet' for each reachable interface."""
    return frozenset(f"{_port(e)} {r.get('iface')} {_reach(r.get('sources', []))}"
                     for e in record.get("exposure", []) for r in e.get("reachable_from", [])
                     if r.get("sources"))


def exposure_items(record: dict[str, Any]) -> set[str]:
    return {f"{_port(e)} on {e.get('host_addr')} via {r.get('iface')} from "
            f"{', '.join(r.get('sources', []))}"
            for e in record.get("exposure", []) for r in e.get("reachable_from", [])
            if r.get("sources")}


def _finding_keys(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.get("id", "?"), f.get("subject", "")) for f in record.get("findings", [])}


def ports(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per published port / host socket: the hosts where anybody can reach it, and those where
    the internet can."""
    anyone: dict[str, set[str]] = defaultdict(set)
    internet: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        for e in rec.get("exposure", []):
            srcs = [s for r in e.get("reachable_from", []) for s in r.get("sources", [])]
            if srcs:
                anyone[_port(e)].add(rec["host"])
                if reaches_internet(srcs):
                    internet[_port(e)].add(rec["host"])
    return [{"port": p, "hosts": sorted(anyone[p]), "internet": sorted(internet[p])}
            for p in sorted(anyone, key=lambda p: (p.split("/")[0], int(p.split("/")[1])
                                                   if p.split("/")[1].isdigit() else 0))]


def findings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per finding id: the hosts that have it (`host_count` of them) and how many findings of
    that id there are in all (`count`: one host may have many, one per port)."""
    hosts: dict[str, set[str]] = defaultdict(set)
    count: Counter[str] = Counter()
    severity: dict[str, str] = {}
    for rec in records:
        for f in rec.get("findings", []):
            fid = f.get("id", "?")
            hosts[fid].add(rec["host"])
            count[fid] += 1
            severity.setdefault(fid, f.get("severity", "info"))
    order = ("high", "medium", "low", "info")
    return [{"id": fid, "severity": severity[fid], "count": count[fid],
             "host_count": len(hosts[fid]), "hosts": sorted(hosts[fid])}
            for fid in sorted(hosts, key=lambda i: (order.index(severity[i])
                                                    if severity[i] in order else 9, i))]


def groups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group, the exposure most of its hosts share (`norm`) and every host that differs,
    with what it has more and less. Without a strict majority there is no norm, so no host
    "differs": the group's `variants` (each distinct exposure with its hosts, the most common
    first) say what there is instead."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_group[rec.get("group", "?")].append(rec)
    out = []
    for name in sorted(by_group):
        members = sorted(by_group[name], key=lambda r: r["host"])
        sigs = {r["host"]: signature(r) for r in members}
        common, n = Counter(sigs.values()).most_common(1)[0]
        norm = common if n * 2 > len(members) else None
        entry = {"group": name, "from": members[0].get("group_from", "?"),
                 "hosts": [r["host"] for r in members],
                 "norm": sorted(norm) if norm is not None else None,
                 "differ": [{"host": host, "extra": sorted(sig - norm),
                             "missing": sorted(norm - sig)}
                            for host, sig in sigs.items() if norm is not None and sig != norm]}
        if norm is None and len(members) > 1:
            entry["variants"] = _variants(sigs)
        out.append(entry)
    return out


def _variants(sigs: dict[str, frozenset[str]]) -> list[dict[str, Any]]:
    by_sig: dict[frozenset[str], list[str]] = defaultdict(list)
    for host, sig in sigs.items():
        by_sig[sig].append(host)
    return [{"hosts": hosts, "exposure": sorted(sig)}
            for sig, hosts in sorted(by_sig.items(), key=lambda kv: (-len(kv[1]), kv[1]))]


def changes(records: list[dict[str, Any]], before: dict[str, dict[str, Any]] | None,
            against: str | None) -> dict[str, Any] | None:
    """What differs from an earlier run: hosts new and gone, and per host the findings that
    appeared or went away, the exposure added or removed, an error that appeared or cleared."""
    if before is None:
        return None
    now = {r["host"]: r for r in records}
    hosts = []
    for name in sorted(set(now) & set(before)):
        old, new = before[name], now[name]
        entry: dict[str, Any] = {"host": name}
        if ("error" in old) != ("error" in new) or old.get("error") != new.get("error"):
            entry["error"] = {"before": old.get("error"), "now": new.get("error")}
        if "error" not in old and "error" not in new:
            of, nf = _finding_keys(old), _finding_keys(new)
            oe, ne = exposure_items(old), exposure_items(new)
            for key, value in (("new_findings", nf - of), ("resolved_findings", of - nf)):
                if value:
                    entry[key] = [{"id": i, "subject": s} for i, s in sorted(value)]
            for key, items in (("exposure_added", ne - oe), ("exposure_removed", oe - ne)):
                if items:
                    entry[key] = sorted(items)
        if len(entry) > 1:
            hosts.append(entry)
    return {"against": against, "new_hosts": sorted(set(now) - set(before)),
            "gone_hosts": sorted(set(before) - set(now)), "hosts": hosts}


def summarise(records: list[dict[str, Any]], before: dict[str, dict[str, Any]] | None = None,
              against: str | None = None, reused: int = 0) -> dict[str, Any]:
    """`audited`: the hosts with an audit result (this run's or an unchanged one's); `errors`:
    the hosts that could not be read (never counted as audited); `reused`: the hosts taken
    unchanged from an earlier run, readable or not."""
    ok = [r for r in records if "error" not in r]
    return {"hosts": len(records), "audited": len(ok), "reused": reused,
            "errors": sorted(r["host"] for r in records if "error" in r),
            "ports": ports(ok), "findings": findings(ok), "groups": groups(ok),
            "changes": changes(records, before, against)}
