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


@dataclass(frozen=True)
class RulesLine:
    """One `-A CHAIN ...` line of a ufw rules file, with the user rule it belongs to (if any)."""

    file: str
    line: int
    chain: str
    text: str
    rule: UfwRule | None = None


def _ports(port: str, app: str | None) -> str:
    if app and app != "-":
        return f" app {app}"
    return "" if port == "any" else f" port {port}"


def command(tuple_text: str) -> str:
    """The ufw command that creates a tuple: `ufw route allow in on eth1 out on docker0 proto
    tcp from any to 172.17.0.2 port 80`. Unparseable tuples are returned as they are."""
    body = tuple_text.split(" comment=")[0].split()
    if len(body) not in (7, 9):
        return f"ufw (tuple: {tuple_text})"
    action, proto, dport, dst, sport, src = body[:6]
    dapp, sapp = (body[6], body[7]) if len(body) == 9 else (None, None)
    direction = body[-1]
    route = action.startswith("route:")
    action = action.removeprefix("route:")
    log = ""
    if "_" in action:
        action, log = action.split("_", 1)
        log = f" {log}"
    words = ["ufw"] + (["route"] if route else []) + [action]
    for part in direction.split("!"):
        way, _, iface = part.partition("_")
        words.append(way if not iface else f"{way} on {iface}")
    text = " ".join(words) + log
    if proto != "any":
        text += f" proto {proto}"
    text += f" from {'any' if src in ANY else src}{_ports(sport, sapp)}"
    text += f" to {'any' if dst in ANY else dst}{_ports(dport, dapp)}"
    comment = tuple_text.split(" comment=")[1] if " comment=" in tuple_text else ""
    if comment:
        try:
            text += f" comment {bytes.fromhex(comment).decode('utf-8', 'replace')!r}"
        except ValueError:
            pass
    return text


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
