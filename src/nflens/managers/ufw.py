"""ufw's configuration: the rule tuples of user.rules / user6.rules and the iptables-restore
lines of every ufw rules file (before/after/user), each with its file and line.

Facts (ufw 0.36, checked on Debian 12's ufw in a lab namespace): every rule the admin adds is
stored in user.rules as a comment line
    ### tuple ### ACTION PROTO DPORT DST SPORT SRC [DAPP SAPP] DIRECTION [comment=HEX]
followed by the `-A ufw-user-*` lines ufw generated for it, e.g.
    ### tuple ### allow tcp 80 0.0.0.0/0 any 10.99.0.0/24 in
    -A ufw-user-input -p tcp --dport 80 -s 10.99.0.0/24 -j ACCEPT
ACTION is allow|deny|reject|limit (optionally _log / _log-all), `route:` in front for
`ufw route`; DIRECTION is in|out, `in_IFACE`, `out_IFACE`, or `in_A!out_B` for a routed rule
with both. ufw loads these files with iptables-restore, so the kernel holds their lines in file
order; iptables-save prints them normalised (`-m tcp`, /32, recent's defaults added).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UFW_FILES = ("etc/ufw/user.rules", "etc/ufw/user6.rules", "etc/ufw/before.rules",
             "etc/ufw/before6.rules", "etc/ufw/after.rules", "etc/ufw/after6.rules")
ANY = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class UfwRule:
    """One rule the admin added (a user.rules tuple) and its command in ufw's own syntax."""

    file: str
    line: int  # the tuple line
    tuple: str
    command: str

    @property
    def parsed(self) -> Tuple | None:
        return parse_tuple(self.tuple)


@dataclass(frozen=True)
class RulesLine:
    """One `-A CHAIN ...` line of a ufw rules file, with the user rule it belongs to (if any)."""

    file: str
    line: int
    chain: str
    text: str
    rule: UfwRule | None = None


@dataclass(frozen=True)
class Tuple:
    """A user.rules tuple, parsed: what `ufw [route] ACTION ...` said."""

    action: str  # allow, deny, reject, limit
    proto: str  # tcp, udp, any, ...
    dport: str  # "any", "80", "8000:8100", "80,443"
    dst: str
    sport: str
    src: str
    ways: tuple[tuple[str, str], ...]  # (("in", "eth1"), ("out", "docker0")) or (("in", ""),)
    route: bool = False
    log: str = ""  # "", "log", "log-all"
    dapp: str = ""
    sapp: str = ""
    comment: str = ""


def parse_tuple(text: str) -> Tuple | None:
    body, _, comment = text.partition(" comment=")
    words = body.split()
    if len(words) not in (7, 9):
        return None
    action, proto, dport, dst, sport, src = words[:6]
    dapp, sapp = (words[6], words[7]) if len(words) == 9 else ("-", "-")
    route = action.startswith("route:")
    action, _, log = action.removeprefix("route:").partition("_")
    ways = tuple((w.partition("_")[0], w.partition("_")[2]) for w in words[-1].split("!"))
    try:
        note = bytes.fromhex(comment).decode("utf-8", "replace") if comment else ""
    except ValueError:
        note = ""
    return Tuple(action, proto, dport, dst, sport, src, ways, route, log,
                 "" if dapp == "-" else dapp, "" if sapp == "-" else sapp, note)


def _ports(port: str, app: str) -> str:
    if app:
        return f" app {app}"
    return "" if port == "any" else f" port {port}"


def render(t: Tuple) -> str:
    """The ufw command that makes this tuple."""
    words = ["ufw"] + (["route"] if t.route else []) + [t.action]
    # A route rule's bare `in` (no interface) is ufw's default, and ufw 0.36 refuses it typed:
    # `ufw route allow in proto tcp ...` is "ERROR: Invalid interface clause for route rule"
    # (lab, issue 13). A host rule's bare `in` is accepted.
    words += [way if not iface else f"{way} on {iface}" for way, iface in t.ways
              if iface or not t.route]
    text = " ".join(words) + (f" {t.log}" if t.log else "")
    if t.proto != "any":
        text += f" proto {t.proto}"
    text += f" from {'any' if t.src in ANY else t.src}{_ports(t.sport, t.sapp)}"
    text += f" to {'any' if t.dst in ANY else t.dst}{_ports(t.dport, t.dapp)}"
    return text + (f" comment {t.comment!r}" if t.comment else "")


def command(tuple_text: str) -> str:
    """The ufw command that creates a tuple: `ufw route allow in on eth1 out on docker0 proto
    tcp from any to 172.17.0.2 port 80`. Unparseable tuples are shown as they are."""
    t = parse_tuple(tuple_text)
    return render(t) if t is not None else f"ufw (tuple: {tuple_text})"


TARGET = {"allow": "ACCEPT", "deny": "DROP", "reject": "REJECT"}


def prefix(family: str) -> str:
    """ufw's chain prefix in a family's table: `ufw` in iptables, `ufw6` in ip6tables (ufw 0.36
    backend_iptables.py: chain_prefix = "ufw6" for v6; its IPv6 rules live in user6.rules)."""
    return "ufw6" if family == "ip6" else "ufw"


def user_forward(family: str) -> str:
    """The chain of `ufw route` rules in that family: ufw-user-forward / ufw6-user-forward."""
    return f"{prefix(family)}-user-forward"


def generated(t: Tuple, family: str = "ip") -> list[str]:
    """The `-A ufw-user-*` lines ufw writes for an allow/deny/reject tuple without apps, in the
    order and shape ufw 0.36 writes them (`-A ufw-user-forward -i eth1 -o docker0 -p tcp -d
    172.17.0.2 --dport 80 -j ACCEPT`); `any` protocol with ports is one line per tcp and udp.
    In family ip6 the chains are `ufw6-user-*` (user6.rules). Limit and log tuples are not
    generated here (ufw adds recent/LOG plumbing)."""
    if t.action not in TARGET or t.log or t.dapp or t.sapp:
        return []
    way = t.ways[0][0]
    kind = "forward" if t.route else ("input" if way == "in" else "output")
    chain = f"{prefix(family)}-user-{kind}"
    protos = [t.proto] if t.proto != "any" or (t.dport == "any" and t.sport == "any") \
        else ["tcp", "udp"]
    out = []
    for proto in protos:
        words = [f"-A {chain}"] + [f"-{w[0]} {iface}" for w, iface in t.ways if iface]
        if proto != "any":
            words.append(f"-p {proto}")
        if t.dst not in ANY:
            words.append(f"-d {t.dst}")
        if t.dport != "any":
            words.append(f"-m multiport --dports {t.dport}" if "," in t.dport or ":" in t.dport
                         else f"--dport {t.dport}")
        if t.src not in ANY:
            words.append(f"-s {t.src}")
        if t.sport != "any":
            words.append(f"--sport {t.sport}")
        target = TARGET[t.action]
        if target == "REJECT" and proto == "tcp":
            target += " --reject-with tcp-reset"
        out.append(" ".join(words + [f"-j {target}"]))
    return out


TUPLE = re.compile(r"^### tuple ### (.+?)\s*$")
RULE = re.compile(r"^-A (\S+) ")


def rules_lines(file: str, text: str) -> list[RulesLine]:
    """Every `-A` line of one ufw rules file, in order, tied to its tuple in user rules files."""
    out: list[RulesLine] = []
    current: UfwRule | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = TUPLE.match(line)
        if m:
            current = UfwRule(file, n, m.group(1), command(m.group(1)))
            continue
        if not line:
            current = None
            continue
        m = RULE.match(line)
        if m:
            out.append(RulesLine(file, n, m.group(1), line, current))
    return out


def user_rules(files: dict[str, str]) -> list[UfwRule]:
    """The rules the admin added, from user.rules and user6.rules."""
    out: list[UfwRule] = []
    for name in ("etc/ufw/user.rules", "etc/ufw/user6.rules"):
        if name in files:
            seen = set()
            for rl in rules_lines(name, files[name]):
                if rl.rule is not None and rl.rule.line not in seen:
                    seen.add(rl.rule.line)
                    out.append(rl.rule)
    return out
