"""`nflens diff BEFORE AFTER`: what changed between two audits of one host (before and after a
`ufw reload`, a dockerd restart, an upgrade). Pure: two audit results in (analysis/audit.py's
JSON shape), one diff out; reading the snapshots and rendering are the CLI's and report's.

What is compared, and by what key (so that a change of line numbers alone is no change):
- exposure, per published port or host socket (proto, host address, host port, target: the
  container and its port, or the process) and per ingress interface: the sources gained and
  lost, exact minimal CIDR lists (what the set difference holds, nothing rounded), plus the
  uncertain sources gained and lost when those moved;
- egress, per network, container and service: destinations gained and lost;
- findings, by id, subject and the text of their rules (sorted, without file or line: an
  edit above a rule renumbers it without changing what it does): added and resolved.
A port that only one side has is `new` or `removed`; one both have whose sources moved is
`changed` (it may appear under both gained and lost, on different interfaces).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from nflens.analysis.partition import cidrs_of, readable
from nflens.kernel.region import merge, subtract

Ranges = dict[int, list[tuple[int, int]]]
Never = dict[int, list[int]]


def ranges_of(cidrs: Iterable[str]) -> Ranges:
    """CIDR strings (as the audit JSON lists them) -> merged integer ranges per IP version."""
    out: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        out[net.version].append((int(net.network_address), int(net.broadcast_address)))
    return {v: merge(r) for v, r in out.items()}


def _minus(a: Ranges, b: Ranges) -> Ranges:
    return {v: subtract(a.get(v, []), b.get(v, [])) for v in (4, 6)}


def _cidrs(r: Ranges) -> list[str]:
    return [c for v in (4, 6) for c in cidrs_of(v, r.get(v, []))]


def _moved(before: Iterable[str], after: Iterable[str]) -> tuple[Ranges, Ranges]:
    """(gained, lost) between two CIDR lists."""
    b, a = ranges_of(before), ranges_of(after)
    return _minus(a, b), _minus(b, a)


def exposure_key(e: dict[str, Any]) -> tuple:
    t = e.get("target", {})
    who = ("container", t.get("container"), t.get("port")) if "container" in t else \
        ("process", t.get("process"))
    return (e.get("proto"), e.get("host_addr"), e.get("host_port"), who)


def finding_key(f: dict[str, Any]) -> tuple:
    """id, subject and the rules' text: stable across renumbering (module docstring)."""
    return (f.get("id"), f.get("subject"), tuple(sorted(r.get("text", "") for r in
                                                        f.get("rules", []))))


def _ifaces(e: dict[str, Any] | None) -> dict[str, tuple[list[str], list[str]]]:
    """iface -> (sources, uncertain sources) of one exposure entry (several entries of one key
    are joined: their sources are a union)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for r in (e or {}).get("reachable_from", []):
        srcs, unsure = out.setdefault(r["iface"], ([], []))
        srcs += r.get("sources", [])
        unsure += (r.get("uncertain") or {}).get("sources", [])
    return out


def _side(status: str, before: dict | None, after: dict | None, never: Never,
          lost: bool) -> dict[str, Any] | None:
    """One port's gained (lost=False) or lost (lost=True) sources, or None when nothing."""
    old, new = _ifaces(before), _ifaces(after)
    rows = []
    for iface in sorted(set(old) | set(new)):
        (bs, bu), (as_, au) = old.get(iface, ([], [])), new.get(iface, ([], []))
        gained, gone = _moved(bs, as_)
        ugained, ugone = _moved(bu, au)
        sure, unsure = (gone, ugone) if lost else (gained, ugained)
        row: dict[str, Any] = {"iface": iface, "sources": _cidrs(sure),
                               "readable": readable(sure, never)}
        if _cidrs(unsure):
            row["uncertain"] = _cidrs(unsure)
        if row["sources"] or "uncertain" in row:
            rows.append(row)
    if not rows:
        return None
    e = after if after is not None else before
    assert e is not None  # a key comes from one side at least
    return {"status": status, "proto": e.get("proto"), "host_addr": e.get("host_addr"),
            "host_port": e.get("host_port"), "target": e.get("target"), "from": rows}


def _by_key(items: list[dict], key: Callable[[dict], tuple]) -> dict[tuple, dict]:
    """key -> item; items sharing a key are joined (their reaches listed together)."""
    out: dict[tuple, dict] = {}
    for e in items:
        k = key(e)
        if k in out:
            joined = dict(out[k])
            joined["reachable_from"] = [*out[k].get("reachable_from", []),
                                        *e.get("reachable_from", [])]
            out[k] = joined
        else:
            out[k] = e
    return out


def diff_exposure(before: list[dict], after: list[dict], never: Never) -> dict[str, list]:
    b, a = _by_key(before, exposure_key), _by_key(after, exposure_key)
    gained, lost = [], []
    for k in [*a, *(k for k in b if k not in a)]:
        status = "new" if k not in b else "removed" if k not in a else "changed"
        g = _side(status, b.get(k), a.get(k), never, lost=False)
        x = _side(status, b.get(k), a.get(k), never, lost=True)
        gained += [g] if g else []
        lost += [x] if x else []
    return {"gained": gained, "lost": lost}


def egress_key(e: dict[str, Any]) -> tuple:
    return (e.get("network"), e.get("container"), e.get("proto"), e.get("port"))


def diff_egress(before: list[dict], after: list[dict], never: Never) -> dict[str, list]:
    """Destinations gained and lost per network, container and service."""
    b = {egress_key(e): e.get("destinations", []) for e in before}
    a = {egress_key(e): e.get("destinations", []) for e in after}
    out: dict[str, list] = {"gained": [], "lost": []}
    for k in [*a, *(k for k in b if k not in a)]:
        gained, lost = _moved(b.get(k, []), a.get(k, []))
        for side, r in (("gained", gained), ("lost", lost)):
            if _cidrs(r):
                out[side].append({"network": k[0], "container": k[1], "proto": k[2],
                                  "port": k[3], "destinations": _cidrs(r),
                                  "readable": readable(r, never)})
    return out


def diff_findings(before: list[dict], after: list[dict]) -> dict[str, list]:
    b = {finding_key(f) for f in before}
    a = {finding_key(f) for f in after}
    return {"added": [f for f in after if finding_key(f) not in b],
            "resolved": [f for f in before if finding_key(f) not in a]}


def diff_audits(before: dict[str, Any], after: dict[str, Any],
                never: Never | None = None) -> dict[str, Any]:
    """The diff of two audit results. `never`: addresses that can never be a source on this
    host (its own, broadcasts; analysis.exposure.never_sources), for the readable forms."""
    never = never or {}
    return {"exposure": diff_exposure(before.get("exposure", []), after.get("exposure", []),
                                      never),
            "egress": diff_egress(before.get("egress", []), after.get("egress", []), never),
            "findings": diff_findings(before.get("findings", []), after.get("findings", []))}


def unchanged(diff: dict[str, Any]) -> bool:
    return not any(v for part in diff.values() for v in part.values())
