"""iptables-save / ip6tables-save -> IR.

The save format (iptables-save(8)): `*table`, `:CHAIN POLICY [packets:bytes]`, rules
`[p:b] -A CHAIN options...`, `COMMIT`. Options before `-m`/`-j` belong to the built-in `ip`
match; `-m NAME` opens an extension whose options follow; `-p tcp` loads the tcp extension
implicitly. `!` negates the option after it (the old `--opt ! value` spelling too).
"""

from __future__ import annotations

import re
import shlex

from nflens.errors import ParseError
from nflens.ir.rules import (
    Action,
    Chain,
    Opt,
    Rule,
    Ruleset,
    Source,
    Table,
    Unsupported,
    XtMatch,
    opts,
)
from nflens.literal import excerpt, quoted

from . import grammar, targets, validate

BUILTIN = {  # table -> chain -> (hook, priority, type)
    "raw": {"PREROUTING": ("prerouting", -300), "OUTPUT": ("output", -300)},
    "mangle": {c: (c.lower(), -150)
               for c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")},
    "nat": {"PREROUTING": ("prerouting", -100), "OUTPUT": ("output", -100),
            "INPUT": ("input", 100), "POSTROUTING": ("postrouting", 100)},
    "filter": {c: (c.lower(), 0) for c in ("INPUT", "FORWARD", "OUTPUT")},
    "security": {c: (c.lower(), 50) for c in ("INPUT", "FORWARD", "OUTPUT")},
}
BUILTIN_OPTS = {"-s": "src", "--source": "src", "--src": "src", "-d": "dst", "--destination": "dst",
                "--dst": "dst", "-i": "in", "--in-interface": "in", "-o": "out",
                "--out-interface": "out", "-p": "proto", "--protocol": "proto", "-f": "fragment",
                "--fragment": "fragment"}
IMPLICIT = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmp6", "ipv6-icmp": "icmp6",
            "sctp": "sctp", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmp6"}
_INCOMPATIBLE = re.compile(r"^# Table `([^']+)' contains incompatible base-chains")
_COUNTERS = re.compile(r"^\[(\d+):(\d+)\]\s+")


class _Parser:
    def __init__(self, text: str, file: str, family: str | None):
        self.text, self.file = text, file
        self.family = family or _guess_family(text)
        self.tables: list[Table] = []
        self.unsupported: list[Unsupported] = []
        self.warnings: list[tuple[str, int, str]] = []
        self.backend: str | None = None
        self.table: str | None = None
        self.chains: dict[str, dict] = {}
        self.spec_mode = False
        self.incompatible: list[str] = []
        self.header_seen = False

    def rules_spec_mode(self, n: int) -> None:
        self.spec_mode = True
        self.table = "filter"
        self.chains = {}
        for name in BUILTIN["filter"]:
            self.declare(n, f":{name} ACCEPT")
        self.warnings.append((self.file, n, "`iptables -S` format: read as the filter table"))

    def error(self, line: int, msg: str) -> ParseError:
        return ParseError(msg, self.file, line)

    def no_commit(self, line: int) -> ParseError:
        """iptables-restore refuses a table that another `*table` or the end of the input
        interrupts ("COMMIT expected at line N", iptables/iptables-restore.c; checked with
        iptables-nft-restore and iptables-legacy-restore -t): none of it is loaded, so a dump
        without COMMIT is no ruleset the kernel could hold (issue 29.13)."""
        return self.error(line, f"table {self.table} has no COMMIT (iptables-restore refuses "
                          "it: COMMIT expected)")

    def run(self) -> Ruleset:
        lines = self.text.split("\n")
        if "\r" in self.text:
            self.warnings.append((self.file, 1, "CRLF line endings"))
        for n, raw in enumerate(lines, 1):
            line = raw.rstrip("\r").strip()
            if line.startswith("#") and self.comment(line):
                continue
            if not line or line.startswith("#"):
                continue
            self.line(n, line)
        if self.table is not None and self.spec_mode:  # `iptables -S` has no COMMIT
            self.commit()
        elif self.table is not None:
            raise self.no_commit(len(lines))
        dialect = "ip6tables" if self.family == "ip6" else "iptables"
        return Ruleset(tuple(self.tables), dialect, self.backend or None, tuple(self.unsupported),
                       tuple(self.warnings), tuple(self.incompatible))

    def comment(self, line: str) -> bool:
        """Read the comments iptables-nft-save writes: its header names the backend, and
        "# Table `nat' contains incompatible base-chains, use 'nft' tool to list them." comes
        before a table that holds native nft base chains (the `table ip nat` of an
        /etc/nftables.conf): what follows is a stub (invented built-in chains, no native rules),
        not the table (iptables-nft nft-shared/nft.c nft_is_table_compatible). True when the
        comment was one of those."""
        m = _INCOMPATIBLE.match(line)
        if m:
            self.incompatible.append(m.group(1))
            return True
        if not self.header_seen and self.table is None and not self.tables:
            self.header_seen = True
            m = re.search(r"\((nf_tables|legacy)\)", line)
            self.backend = m.group(1) if m else None
        return False

    def line(self, n: int, line: str) -> None:
        if line.startswith("*"):
            if self.table is not None:
                raise self.no_commit(n)
            self.table = line[1:].strip()
            if not re.fullmatch(r"[a-z_]+", self.table):
                raise self.error(n, f"bad table name {self.table!r}")
            self.chains = {}
            return
        if self.table is None:
            if line.startswith(("table ", "{", "flush ")):
                raise self.error(n, "this is nftables, not iptables-save output")
            if line.startswith(("-P ", "-N ", "-A ")):
                self.rules_spec_mode(n)  # `iptables -S` output: the filter table, no header
            elif line.startswith("Chain ") and "(policy" in line:
                raise self.error(n, "this is `iptables -L` output; nflens reads iptables-save "
                                    "(or `iptables -S`) output")
            elif re.search(r"^\*[a-z]+\s*$", self.text, re.M):
                # text pasted around the dump (a shell prompt, `ip addr`): skip it, say so
                self.warnings.append((self.file, n, f"ignored text outside a table: {line[:40]!r}"))
                return
            else:
                raise self.error(n, "outside a table (expected *filter, *nat, ...): "
                                    f"{excerpt(line)}")
        if line.startswith("-P ") and self.spec_mode:
            parts = line.split()
            if len(parts) != 3 or parts[1] not in self.chains:
                raise self.error(n, f"bad policy line {excerpt(line)}")
            self.chains[parts[1]]["policy"] = parts[2]
            return
        if line.startswith("-N ") and self.spec_mode:
            self.declare(n, f":{line[3:].strip()} - [0:0]")
            return
        if line == "COMMIT":
            self.commit()
            return
        if line.startswith(":"):
            self.declare(n, line)
            return
        self.rule(n, line)

    def declare(self, n: int, line: str) -> None:
        parts = line[1:].split()
        if len(parts) < 2:
            raise self.error(n, f"chain declaration needs a name and a policy: {excerpt(line)}")
        name, policy = parts[0], parts[1]
        counters = None
        if len(parts) > 2:
            m = re.fullmatch(r"\[(\d+):(\d+)\]", parts[2])
            if not m:
                raise self.error(n, f"bad counters {parts[2]!r}")
            counters = (int(m.group(1)), int(m.group(2)))
        if policy not in ("ACCEPT", "DROP", "-", "RETURN", "QUEUE"):
            raise self.error(n, f"bad policy {policy!r} for chain {name}")
        self.chains[name] = {"policy": policy, "counters": counters, "rules": [],
                             "source": Source(self.file, n, line)}

    def rule(self, n: int, line: str) -> None:
        counters = None
        m = _COUNTERS.match(line)
        if m:
            counters = (int(m.group(1)), int(m.group(2)))
            line_body = line[m.end():]
        else:
            line_body = line
        try:
            # shlex is slow; most lines have no quoting at all
            words = line_body.split() if '"' not in line_body and "'" not in line_body \
                and "\\" not in line_body else shlex.split(line_body)
        except ValueError as exc:
            raise self.error(n, f"unbalanced quotes: {exc}") from exc
        if len(words) < 2 or words[0] not in ("-A", "--append", "-I", "--insert"):
            raise self.error(n, f"expected -A CHAIN ...: {excerpt(line)}")
        chain = words[1]
        if chain not in self.chains and chain in BUILTIN.get(self.table or "", {}):
            # iptables-restore input may omit `:CHAIN POLICY` for built-in chains: the chain
            # exists anyway and keeps its policy (ACCEPT on a fresh table)
            self.warnings.append((self.file, n, f"built-in chain {chain} used without a "
                                  "`:CHAIN POLICY` line: policy ACCEPT assumed"))
            self.chains[chain] = {"policy": "ACCEPT", "counters": None, "rules": [],
                                  "source": Source(self.file, n, line)}
        if chain not in self.chains:
            raise self.error(n, f"rule for chain {quoted(chain)}, which is not declared in table "
                                f"{self.table}")
        rules = self.chains[chain]["rules"]
        rest, where = words[2:], len(rules)
        if words[0] in ("-I", "--insert"):
            where, rest = self._insert_at(n, chain, rest, len(rules))
        exprs = _RuleWords(self, n, line, rest).parse()
        try:
            validate.check(exprs, BUILTIN.get(self.table or "", {}).get(chain, (None,))[0])
        except ValueError as exc:
            raise self.error(n, f"{exc} (iptables refuses this rule)") from exc
        rules.insert(where, Rule(exprs, Source(self.file, n, line), counters))

    def _insert_at(self, n: int, chain: str, rest: list[str], count: int) -> tuple[int, list[str]]:
        """`-I CHAIN [N]` inserts before rule N (1-based, default 1), as iptables-restore does
        (checked on 1.8.9): N may be one past the end (an append); beyond that, or 0, the
        tool refuses the table ("Index of insertion too big", "Invalid rule number")."""
        if not rest or not rest[0].isdigit():
            return 0, rest
        num = int(rest[0])
        if num < 1:
            raise self.error(n, f"invalid rule number {rest[0]!r} for -I {chain}")
        if num > count + 1:
            raise self.error(n, f"index of insertion too big: -I {chain} {num}, the chain has "
                                f"{count} rule{'s' if count != 1 else ''}")
        return num - 1, rest[1:]

    def commit(self) -> None:
        built = BUILTIN.get(self.table or "", {})
        chains = []
        for name, c in self.chains.items():
            policy = None if c["policy"] == "-" else c["policy"].lower()
            if name in built:
                hook, prio = built[name]
                ctype = "nat" if self.table == "nat" else (
                    "route" if self.table == "mangle" and name == "OUTPUT" else "filter")
                chains.append(Chain(name, tuple(c["rules"]), hook, prio, policy or "accept",
                                    ctype, c["source"], c["counters"]))
            else:
                chains.append(Chain(name, tuple(c["rules"]), source=c["source"],
                                    counters=c["counters"]))
        origin = "iptables-nft" if self.backend == "nf_tables" else "iptables-legacy"
        self.tables.append(Table(self.family, self.table or "", tuple(chains), origin=origin))
        self.table = None
        self.chains = {}


class _RuleWords:
    """The words of one rule after `-A CHAIN`."""

    def __init__(self, parser: _Parser, n: int, line: str, words: list[str]):
        self.p, self.n, self.line, self.words, self.i = parser, n, line, words, 0
        self.implicit: str | None = None  # the match `-p tcp` loads without -m

    def error(self, msg: str) -> ParseError:
        return self.p.error(self.n, msg)

    def take(self, what: str) -> str:
        if self.i >= len(self.words):
            raise self.error(f"{what} needs an argument")
        w = self.words[self.i]
        self.i += 1
        return w

    def parse(self) -> tuple:
        builtin: list[Opt] = []
        matches: list[XtMatch] = []
        self.matches = matches  # seen by _target: an option after -j may be a match's
        current: tuple[str, list[Opt]] | None = None
        target: Action | None = None
        negate = False
        while self.i < len(self.words):
            w = self.take("")
            if w == "!":
                negate = True
                continue
            if w in ("-m", "--match"):
                name = self.take("-m")
                current = (name, [])
                matches.append(XtMatch(name))  # placeholder, replaced when options end
                self._check_known(name)
            elif w in BUILTIN_OPTS:
                builtin.append(self._builtin(BUILTIN_OPTS[w], negate))
                if BUILTIN_OPTS[w] == "proto" and not negate:
                    current = self._implicit(builtin[-1].value, matches, current)
            elif w in ("-j", "--jump", "-g", "--goto"):
                target = self._target(w in ("-g", "--goto"))
            elif w.startswith("--") and current is not None:
                owner = self._owner(w[2:], current, matches)
                opt = self._ext_option(owner.name, w[2:], negate)
                k = _last(matches, owner.name)
                matches[k] = XtMatch(owner.name, matches[k].opts + (opt,))
                if owner.name == current[0]:
                    current[1].append(opt)
            elif w in ("-c", "--set-counters"):
                self.take("-c")
                self.take("-c")
            else:
                raise self.error(f"unknown option {w!r}")
            negate = False
        if target is not None and target.name == "tproxy" and not any(
                o.name == "proto" and not o.negated and o.value in ("tcp", "udp") for o in builtin):
            # tproxy_tg4_check / tproxy_tg6_check (net/netfilter/xt_TPROXY.c): the kernel
            # refuses the rule, so iptables-restore does
            raise self.error("TPROXY can be used only with -p tcp or -p udp")
        exprs: list = []
        if builtin:
            exprs.append(XtMatch("ip", tuple(builtin)))
        exprs.extend(matches)
        if target is not None:
            exprs.append(target)
        return tuple(exprs)

    def _builtin(self, name: str, negate: bool) -> Opt:
        if name == "fragment":
            return Opt("fragment", True, negate)
        raw = self.take(name)
        if raw == "!":  # old syntax: -s ! 10.0.0.0/8
            negate, raw = True, self.take(name)
        try:
            if name in ("src", "dst"):
                if "," in raw:
                    raise ValueError("several addresses in one rule are expanded by iptables; "
                                     "a save file never has them")
                if "/" in raw and "." in raw.split("/", 1)[1]:
                    self.p.warnings.append((self.p.file, self.n, f"dotted netmask {raw}"))
                if raw.startswith("<"):  # an anonymised placeholder such as <private_ip>/32
                    self.p.unsupported.append(Unsupported(self.p.file, self.n, self.line,
                                                          f"address placeholder {raw} kept opaque"))
                    return Opt(name, raw, negate)
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9.-]*(/\d+)?", raw):
                    # iptables-restore input (not a save file) may name hosts; iptables
                    # resolves them when loading, the snapshot cannot
                    self.p.unsupported.append(Unsupported(self.p.file, self.n, self.line,
                                                          f"host name {raw} not resolved"))
                    return Opt(name, raw, negate)
                value = grammar.network(raw)
                if (value.version == 6) != (self.p.family == "ip6"):
                    kind = "IPv6" if self.p.family == "ip6" else "IPv4"
                    raise ValueError(f"{raw} is not an {kind} address")
                return Opt(name, value, negate)
            if name == "proto":
                proto = raw.lower()
                proto = {"ipv6-icmp": "icmpv6", "icmp6": "icmpv6"}.get(proto, proto)
                if proto.isdigit():
                    proto = grammar.PROTO_NAMES.get(int(proto), proto)
                return Opt("proto", proto, negate)
            return Opt(name, raw, negate)
        except ValueError as exc:
            raise self.error(f"bad value for {name}: {exc}") from exc

    def _implicit(self, proto: str, matches: list, current):
        name = IMPLICIT.get(proto)
        if name is None or self.p.family == "ip" and name == "icmp6":
            return current
        self.implicit = name
        return (name, [])

    def _owner(self, opt: str, current, matches: list[XtMatch]) -> XtMatch:
        """The loaded match an option belongs to: iptables parses options with getopt over
        every loaded extension, so `-p tcp -m state --state NEW --dport 22` gives --dport to
        the tcp match although state was loaded last."""
        if _resolve(current[0], opt) is not None or current[0] not in grammar.EXTENSIONS:
            return XtMatch(current[0])
        for m in reversed(matches):
            if _resolve(m.name, opt) is not None:
                return m
        if self.implicit and _resolve(self.implicit, opt) is not None:
            return XtMatch(self.implicit)
        return XtMatch(current[0])

    def _ext_option(self, ext: str, opt: str, negate: bool) -> Opt:
        opt = _resolve(ext, opt) or opt
        spec = grammar.EXTENSIONS.get(ext, {}).get(opt)
        if spec is None:
            if ext in grammar.EXTENSIONS and ext not in grammar.UNMODELLED:
                raise self.error(f"unknown option --{opt} for match {ext}")
            # a match nflens does not model (already reported): its options stay opaque,
            # whatever version of the extension wrote them (`-m time --days` of old)
            args = []
            while self.i < len(self.words) and not self.words[self.i].startswith("-"):
                args.append(self.take(opt))
            return Opt(opt, " ".join(args), negate)
        count, conv = spec
        args = [self.take(f"--{opt}") for _ in range(count)]
        if args and args[0] == "!":
            negate, args = True, args[1:] + [self.take(f"--{opt}")]
        try:
            value = conv(*args) if count else True
        except (ValueError, TypeError) as exc:
            raise self.error(f"bad value for --{opt}: {exc}") from exc
        return Opt(opt.replace("destination-port", "dport").replace("source-port", "sport"),
                   value, negate)

    def _check_known(self, name: str) -> None:
        if name not in grammar.EXTENSIONS or name in grammar.UNMODELLED:
            what = "match extension not known to nflens" if name not in grammar.EXTENSIONS \
                else f"match {name} is not decidable from a snapshot"
            self.p.unsupported.append(Unsupported(self.p.file, self.n, self.line, what))

    def _unknown_target_option(self, args: dict[str, str]) -> bool:
        """An option of a target nflens does not know: it and the words after it up to the next
        option are its (iptables-save prints a target last), unless a loaded match knows the
        option (restore input may write `-m multiport -j FOO --dports 22`)."""
        opt = self.words[self.i][2:]
        loaded = [m.name for m in self.matches] + ([self.implicit] if self.implicit else [])
        if not args and any(_resolve(name, opt) for name in loaded):
            return False
        self.i += 1
        values = []
        while self.i < len(self.words) and not self.words[self.i].startswith("-"):
            values.append(self.take(opt))
        args[opt] = " ".join(values)
        return True

    def _opaque_target(self, name: str, args: dict[str, str], what: str | None) -> Action:
        what = (f"target {name} ({what}) is not modelled" if what
                else f"target {name} is not modelled")
        self.p.unsupported.append(Unsupported(self.p.file, self.n, self.line, what))
        return Action("xt", opts(name=name, args=" ".join(
            f"--{k} {v}" if v else f"--{k}" for k, v in args.items())))

    def _target(self, goto: bool) -> Action:
        name = self.take("-j")
        args: dict[str, str] = {}
        known = targets.TARGET_OPTS.get(name)
        twice: list[str] = []
        while self.i < len(self.words) and self.words[self.i].startswith("--"):
            opt = self.words[self.i][2:]
            if known is None and name not in self.p.chains and self._unknown_target_option(args):
                continue
            if (known is None or opt not in known) and not args:
                # getopt order is free in iptables-restore input: an option the target does
                # not take belongs to the match loaded before it (`-m multiport -j ACCEPT
                # --dports 22`); the main loop hands it there, or reports it
                break
            self.i += 1
            if opt in args:  # iptables 1.8 refuses a repeated target option; old ones took
                twice.append(opt)  # two --to-destination: either way, not one of them
            count = known.get(opt, 1) if known is not None else 1
            if known is not None and opt not in known:
                raise self.error(f"unknown option --{opt} for target {name}")
            args[opt] = " ".join(self.take(f"--{opt}") for _ in range(count))
        if goto:
            return Action("goto", opts(chain=name))
        if twice:
            return self._opaque_target(name, args, f"--{twice[0]} given twice")
        if name in targets.OPAQUE or known is None and name.isupper() and args:
            return self._opaque_target(name, args, targets.OPAQUE.get(name))
        if name in targets.CONTINUES:
            self.p.warnings.append((self.p.file, self.n, f"target {name} {targets.CONTINUES[name]}:"
                                    " modelled as continue (the new value is not tracked)"))
        if known is None:
            if name in self.p.chains:
                return Action("jump", opts(chain=name))
            if name.isupper():
                return self._opaque_target(name, args, None)
            return Action("jump", opts(chain=name))
        try:
            return targets.build(name, args)
        except (ValueError, KeyError) as exc:
            # a damaged value (a dump wrapped by a terminal): keep the rule, opaque, and say so
            self.p.warnings.append((self.p.file, self.n, f"malformed {name} options kept opaque"))
            return self._opaque_target(name, args, f"with a malformed value: {exc}")


def _last(matches: list[XtMatch], name: str) -> int:
    for i in range(len(matches) - 1, -1, -1):
        if matches[i].name == name:
            return i
    matches.append(XtMatch(name))
    return len(matches) - 1


def _guess_family(text: str) -> str:
    head = text.lstrip()[:200]
    if "ip6tables" in head:
        return "ip6"
    if "iptables" in head:
        return "ip"
    if (re.search(r"-[sd] [0-9a-fA-F]*:[0-9a-fA-F:]*[:/]", text)
            or "icmpv6" in text or "icmp6" in text):
        return "ip6"
    return "ip"


def parse(text: str, file: str = "<input>", family: str | None = None) -> Ruleset:
    return _Parser(text, file, family).run()


def _resolve(ext: str, opt: str) -> str | None:
    """An extension's option by its name or by an unambiguous prefix (getopt_long accepts
    `--mac` for `--mac-source`)."""
    known = grammar.EXTENSIONS.get(ext, {})
    if opt in known:
        return opt
    hits = [o for o in known if o.startswith(opt)]
    return hits[0] if len(hits) == 1 else None
