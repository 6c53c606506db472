"""Rules that will not survive a reboot, a `systemctl restart docker` or an nftables reload.

Read from the snapshot's optional persist/ folder (copies of /etc/nftables.conf,
/etc/iptables/rules.v4|v6, systemd units that call iptables/nft/ebtables, ufw and firewalld
configuration). Checks:
- a rule of the admin's (DOCKER-USER, ebtables, an own nft table) that no persistence file
  recreates: it lives in memory only;
- nftables.conf starting with `flush ruleset`: `systemctl reload nftables` also wipes Docker's
  own tables (iptables-nft keeps them in nftables too) until Docker is restarted;
- a unit inserting into DOCKER-USER that is not ordered after docker.service: at boot the chain
  may not exist yet, and `iptables -I DOCKER-USER` fails;
Without a persist/ folder nothing can be told, and the finding says so (severity info).
"""

from __future__ import annotations

import re

from nflens.analysis.context import AuditContext, rule_ref
from nflens.analysis.findings import Finding
from nflens.analysis.fixes import Fix
from nflens.ir.rules import Rule

ID = "not-persistent"
SEVERITY = "medium"
TITLE = "Firewall rules that will not survive a reboot or a reload"


def _user_rules(ctx: AuditContext) -> list[tuple[str, Rule]]:
    """The rules a reboot or a reload could lose: the admin's and the persistence tools' in
    DOCKER-USER, ebtables and own nft tables (one rule per nft table). Rules Docker, ufw,
    firewalld or nflens own are rebuilt by their owner and are never candidates."""
    out = []
    for t in ctx.host.ruleset.tables:
        if t.origin.startswith("iptables"):
            chain = t.chain("DOCKER-USER")
            rules = [("iptables", r) for r in (chain.rules if chain else ())]
        elif t.origin.startswith("ebtables"):
            rules = [("ebtables", r) for c in t.chains for r in c.rules]
        else:
            rules = [("nft", r) for c in t.chains for r in c.rules][:1]
        out += [(k, r) for k, r in rules if _owner(ctx, r) in ("admin", "persist")]
    return out


def _owner(ctx: AuditContext, rule: Rule) -> str:
    owner = ctx.owners.of(rule)
    return owner.kind if owner is not None else "admin"


def _native_fix(ctx: AuditContext, lost: list[tuple[str, Rule]]) -> Fix:
    """Where the host's firewall manager keeps such rules, so that it reloads them itself."""
    args = [re.sub(r"^-[AI] DOCKER-USER( \d+)?\s*", "", r.text) for k, r in lost
            if k == "iptables" and r.text.startswith("-A DOCKER-USER")]
    managers = ctx.owners.managers
    if args and "ufw" in managers:
        block = "\n".join(f"-A DOCKER-USER {a}" for a in args)
        return Fix(note="ufw reloads /etc/ufw/after.rules itself: put these lines into its "
                        "DOCKER-USER block (`*filter`, `:DOCKER-USER - [0:0]`, the lines, "
                        "`-A DOCKER-USER -j RETURN`, `COMMIT`), then `ufw reload`:\n" + block)
    if args and "firewalld" in managers:
        cmds = "\n".join(f"firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER "
                         f"{n} {a}" for n, a in enumerate(args))
        return Fix(note="firewalld keeps direct rules in /etc/firewalld/direct.xml and re-adds "
                        "them at every start and reload:\n" + cmds + "\nfirewall-cmd --reload")
    if lost and all(k == "nft" for k, _ in lost):
        return Fix(note="write the table into /etc/nftables.conf (nftables.service loads it at "
                        "boot; `nft list table FAMILY NAME` prints it), and flush only that "
                        "table there, never the whole ruleset")
    return Fix(note="put the commands in a unit ordered After=docker.service with "
                    "PartOf=docker.service (`nflens policy persist` writes one)")


# `flush ruleset` at the start of a line, as the fix's sed matches it (GNU sed's [[:space:]])
FLUSH = re.compile(r"^(\s*)flush\s+ruleset", re.M)
SED_FLUSH = r"^\([[:space:]]*\)flush[[:space:]]\+ruleset"
# a table the file declares (`table inet filter {`, `add table ip nat`; no family: ip)
TABLE = re.compile(r"^\s*(?:add\s+)?table\s+(?:(ip|ip6|inet|arp|bridge|netdev)\s+)?"
                   r"([A-Za-z_][A-Za-z0-9_.-]*)", re.M)
INCLUDE = re.compile(r"^\s*include\s+(\S+)", re.M)


def _flush_fix(ctx: AuditContext, path: str, text: str) -> Fix:
    """`flush ruleset` replaced by `table F N; delete table F N` for each table the file
    declares: a reload then rebuilds exactly the file's tables (the declaration makes the
    delete valid on the first load; nft -f runs the file as one transaction) and leaves
    Docker's alone. A table with the name of one iptables-nft keeps (ip filter, ip nat ...)
    cannot be deleted without Docker's rules in it: that fix is advice. Tables of included
    files are named, not handled (their text is not in the snapshot)."""
    tables = list(dict.fromkeys((fam or "ip", name) for fam, name in TABLE.findall(text)))
    shared = [f"{fam} {name}" for fam, name in tables
              if any(t.family == fam and t.name == name and not t.origin.startswith("nft")
                     for t in ctx.host.ruleset.tables)]
    includes = INCLUDE.findall(text)
    also = (f" Tables declared in the included {', '.join(includes)} need the same "
            "`table F N; delete table F N` line before them." if includes else "")
    if shared:
        return Fix(note=f"{path} declares {', '.join(shared)}, a table iptables-nft also "
                        "keeps Docker's rules in: flushing or deleting it also removes "
                        "Docker's. Rename the file's table (e.g. `table inet admin`), then "
                        "replace `flush ruleset` with `table inet admin; delete table inet "
                        "admin`." + also)
    repl = "; ".join(f"table {fam} {name}; delete table {fam} {name}" for fam, name in tables)
    new = FLUSH.sub(lambda m: m.group(1) + repl, text) if repl else FLUSH.sub(
        lambda m: m.group(1) + "# flush ruleset", text)
    sed_repl = (repl or "# flush ruleset").replace("/", "\\/").replace("&", "\\&")
    target = "/" + path.lstrip("/")
    shown = "\n".join((
        f"# flush only the file's own tables on a reload ({len(tables)} declared), never "
        f"Docker's; checked by nft before it replaces the file, the old one kept as "
        f"{target}.nflens-bak",
        f"cp -a {target} {target}.nflens-bak",
        f"sed 's/{SED_FLUSH}/\\1{sed_repl}/' {target}.nflens-bak > {target}.nflens-new",
        f"chmod --reference={target}.nflens-bak {target}.nflens-new",
        f"nft -c -f {target}.nflens-new",
        f"mv {target}.nflens-new {target}"))
    return Fix(shown=shown, files=[(path, new)], forward_only=True,
               note=also.strip())


def detect(ctx: AuditContext) -> list[Finding]:
    files = list(ctx.host.persist)
    rules = _user_rules(ctx)
    if not rules:
        return []
    if not files:
        return [Finding(ID, "info", TITLE, "persistence unknown",
                        "The snapshot has no persist/ folder, so whether the admin's rules "
                        f"({len(rules)} found) come back after a reboot cannot be told.",
                        [rule_ref(r) for _, r in rules[:5]],
                        Fix(note="collect with `nflens snapshot collect` on the host itself, "
                                 "or copy /etc/nftables.conf, /etc/iptables/ and the units "
                                 "calling iptables/nft/ebtables into DIR/persist/"))]
    out = []
    lost = [(k, r) for k, r in rules if _owner(ctx, r) == "admin"]
    if lost:
        managed = ", ".join(ctx.owners.managers)
        why = (f" This host's firewall is managed by {managed}, which does not know them: "
               "they are not in its configuration." if managed else "")
        out.append(Finding(ID, SEVERITY, TITLE, "rules in memory only",
                           f"{len(lost)} rule(s) exist only in the running kernel: no file in "
                           "persist/ recreates them, so a reboot (and for DOCKER-USER rules "
                           "set before Docker starts, a Docker restart) loses them." + why,
                           [rule_ref(r) for _, r in lost], _native_fix(ctx, lost)))
    for path, text in files:
        if path.endswith("nftables.conf") and re.search(r"^\s*flush\s+ruleset", text, re.M) \
                and any(t.origin.startswith("iptables") or t.name.startswith("docker")
                        for t in ctx.host.ruleset.tables):
            out.append(Finding(ID, "high", TITLE, f"{path} flush ruleset",
                               f"{path} begins with `flush ruleset`: `systemctl reload "
                               "nftables` (or a restart) deletes every table, Docker's own "
                               "(iptables-nft keeps them in nftables) included, and published "
                               "ports stop working until Docker is restarted.", [],
                               _flush_fix(ctx, path, text)))
        if "[Unit]" in text and "DOCKER-USER" in text and not re.search(
                r"^\s*After=.*docker\.service", text, re.M):
            out.append(Finding(ID, SEVERITY, TITLE, f"{path} ordering",
                               f"{path} inserts rules into DOCKER-USER but is not ordered "
                               "After=docker.service: at boot the chain may not exist yet and "
                               "the rules fail to load.", [],
                               Fix(note="add After=docker.service and PartOf=docker.service "
                                        "to [Unit], WantedBy=docker.service to [Install]")))
    return out
