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
                               Fix(note="flush only your own tables: replace `flush ruleset` "
                                        "with `table inet filter; flush table inet filter` "
                                        "(and the same for each table the file defines)")))
        if "[Unit]" in text and "DOCKER-USER" in text and not re.search(
                r"^\s*After=.*docker\.service", text, re.M):
            out.append(Finding(ID, SEVERITY, TITLE, f"{path} ordering",
                               f"{path} inserts rules into DOCKER-USER but is not ordered "
                               "After=docker.service: at boot the chain may not exist yet and "
                               "the rules fail to load.", [],
                               Fix(note="add After=docker.service and PartOf=docker.service "
                                        "to [Unit], WantedBy=docker.service to [Install]")))
    return out
