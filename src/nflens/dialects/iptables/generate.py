"""IR -> iptables-restore input, built from the typed options (not by echoing source text);
and the command line that makes one rule edit live (`command`, for the fixes of analysis/)."""

from __future__ import annotations

import shlex
from typing import Any

from nflens.ir.rules import Action, Opt, Ruleset, XtMatch

BUILTIN_FLAGS = {"src": "-s", "dst": "-d", "in": "-i", "out": "-o", "proto": "-p", "fragment": "-f"}
TABLE_ORDER = ("raw", "mangle", "nat", "filter", "security")


def _ports(value: tuple[int, int]) -> str:
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}:{hi}"


def _value(ext: str, name: str, value: Any) -> list[str]:
    if value is True:
        return []
    if isinstance(value, frozenset):
        return [",".join(sorted(value))]
    if name in ("sport", "dport", "ctorigsrcport", "ctorigdstport", "ctreplsrcport",
                "ctrepldstport"):
        return [_ports(value)]
    if name in ("sports", "dports", "ports", "source-ports", "destination-ports"):
        return [",".join(_ports(v) for v in value)]
    if name == "tcp-flags":
        mask, comp = value
        return [",".join(sorted(mask)) or "NONE", ",".join(sorted(comp)) or "NONE"]
    if name in ("mark",) or (ext in ("tos", "devgroup", "realm")):
        v, m = value
        return [hex(v) if m == 0xFFFFFFFF else f"{hex(v)}/{hex(m)}"]
    if name in ("icmp-type", "icmpv6-type"):
        t, c = value
        return ["any" if t is None else (str(t) if c is None else f"{t}/{c}")]
    if name in ("src-range", "dst-range"):
        return [f"{value[0]}-{value[1]}"]
    if name == "match-set":
        return [value[0], ",".join(value[1])]
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [f"{value[0]}:{value[1]}" if value[0] != value[1] else str(value[0])]
    return [str(value)]


def _opt(ext: str, opt: Opt) -> list[str]:
    words = ["!"] if opt.negated else []
    return words + [f"--{opt.name}", *_value(ext, opt.name, opt.value)]


def _match(m: XtMatch) -> list[str]:
    if m.name == "ip":
        words = []
        for o in m.opts:
            words += (["!"] if o.negated else []) + [BUILTIN_FLAGS[o.name]]
            if o.name != "fragment":
                words.append(str(o.value))
        return words
    words = ["-m", m.name]
    for o in m.opts:
        words += _opt(m.name, o)
    return words


def _nat_to(addr, port) -> str:
    text = ""
    if addr:
        lo, hi = addr
        host = f"[{lo}]" if lo.version == 6 and port else str(lo)
        text = host if lo == hi else f"{lo}-{hi}"
    if port:
        text += f":{port[0]}" if port[0] == port[1] else f":{port[0]}-{port[1]}"
    return text


def _target(a: Action) -> list[str]:
    n = a.name
    simple = {"accept": "ACCEPT", "drop": "DROP", "return": "RETURN", "notrack": "NOTRACK",
              "trace": "TRACE"}
    if n in simple:
        return ["-j", simple[n]]
    if n == "jump":
        return ["-j", a.get("chain")]
    if n == "goto":
        return ["-g", a.get("chain")]
    if n == "reject":
        return ["-j", "REJECT", "--reject-with", a.get("with")]
    if n in ("dnat", "snat"):
        flag = "--to-destination" if n == "dnat" else "--to-source"
        words = ["-j", n.upper()]
        if a.get("addr") or a.get("port"):
            words += [flag, _nat_to(a.get("addr"), a.get("port"))]
        return words + [f"--{k.replace('_', '-')}" for k in ("random", "random_fully", "persistent")
                        if a.get(k)]
    if n in ("masquerade", "redirect"):
        words = ["-j", n.upper()]
        if a.get("port"):
            lo, hi = a.get("port")
            words += ["--to-ports", str(lo) if lo == hi else f"{lo}-{hi}"]
        return words
    if n == "mark":
        return ["-j", "MARK", "--set-xmark", f"{hex(a.get('value'))}/{hex(a.get('mask'))}"]
    if n == "connmark":
        mode = a.get("mode")
        if mode == "set":
            return ["-j", "CONNMARK", "--set-xmark", f"{hex(a.get('value'))}/{hex(a.get('mask'))}"]
        return ["-j", "CONNMARK", f"--{mode}-mark", "--nfmask", hex(a.get("nfmask")),
                "--ctmask", hex(a.get("ctmask"))]
    if n == "ct" and a.get("notrack"):
        return ["-j", "CT", "--notrack"]
    if n == "queue":
        return ["-j", "NFQUEUE", "--queue-num", str(a.get("num"))]
    if n == "xt":
        return ["-j", a.get("name"), *shlex.split(a.get("args") or "")]
    if n == "tproxy" and a.get("terminal"):
        return _tproxy(a)
    words = ["-j", n.upper()]
    for k, v in a.opts:
        words += [f"--{k.replace('_', '-')}"] + ([] if v is True or v == "" else [str(v)])
    return words


def _tproxy(a: Action) -> list[str]:
    words = ["-j", "TPROXY", "--on-port", str(a.get("port") or 0)]
    if a.get("addr"):
        words += ["--on-ip", str(a.get("addr"))]
    if a.get("mark") is not None:
        words += ["--tproxy-mark", f"{hex(a.get('mark'))}/{hex(a.get('mask'))}"]
    return words


def rule_words(exprs) -> list[str]:
    words: list[str] = []
    for e in exprs:
        words += _match(e) if isinstance(e, XtMatch) else _target(e)
    return words


def generate(ruleset: Ruleset, family: str | None = None) -> str:
    out = []
    families = ("ip", "ip6") if family is None else (family,)
    tables = [t for t in ruleset.tables if t.family in families]
    tables.sort(key=lambda t: TABLE_ORDER.index(t.name) if t.name in TABLE_ORDER else 99)
    for t in tables:
        out.append(f"*{t.name}")
        for c in t.chains:
            policy = (c.policy or "accept").upper() if c.is_base else "-"
            out.append(f":{c.name} {policy} [0:0]")
        for c in t.chains:
            for r in c.rules:
                out.append(" ".join(["-A", c.name] + [quote_word(w) for w in rule_words(r.exprs)]))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def quote_word(word: str) -> str:
    """One word of an iptables-save / iptables-restore line, written as iptables-save writes
    it: bare when it has only characters the restore tokenizer keeps as they are, else in
    double quotes with `\\` and `"` escaped (how a comment with spaces is saved)."""
    if word and all(ch.isalnum() or ch in "-_.:/,!+=@[]%" for ch in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(tool: str, table: str, chain: str, position: int, spec: str | None) -> str:
    """One live rule edit as the user types it: insert `spec` (a rule without "-A CHAIN") at
    1-based `position`, append it (position 0), or delete the rule at `position` (spec None).
    iptables(8), ip6tables(8) and ebtables(8) spell -t/-I/-A/-D alike, so `tool` is any of them;
    `-t` only for a table other than filter (their default)."""
    tbl = "" if table == "filter" else f" -t {table}"
    if spec is None:
        return f"{tool}{tbl} -D {chain} {position}"
    if position:
        return f"{tool}{tbl} -I {chain} {position} {spec}"
    return f"{tool}{tbl} -A {chain} {spec}"
