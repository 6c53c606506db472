"""Who owns each rule of a snapshot: Docker, ufw, firewalld, nflens' own policy, a persistence
tool (iptables-persistent, nftables.service, a unit), or the admin's hand — and, for a manager's
rule, the rule in the manager's own terms with the configuration line it comes from.

Why it matters: the admin thinks in ufw rules and firewalld zones, not in INPUT chains; a fix
must be written where the owner keeps it (a rule added by hand on a ufw host is gone at the
next `ufw reload` or reboot), and a manager's generated rules are never "in memory only".

How (pure, over the Host): by the rule's place first (ufw-* chains, firewalld's and Docker's own
tables and chains, NFLENS chains), then by finding its line in the persist/ files (ufw's rules
files, firewalld's direct.xml, iptables-persistent, nftables.conf, units), else the admin's.
A rule's line in a file is found by its options (`option_pairs`): iptables-save prints rules
normalised (`-m tcp`, /32, defaults of recent), so the file's options must all be in the rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property

from nflens.ir.host import Host
from nflens.ir.rules import Rule, Table
from nflens.managers import fail2ban, firewalld, ufw

KINDS = ("docker", "ufw", "firewalld", "nflens", "fail2ban", "crowdsec", "persist", "admin")
DOCKER_CHAINS = re.compile(r"^DOCKER(-ISOLATION-STAGE-\d|-FORWARD|-BRIDGE|-CT|-INTERNAL|"
                           r"-INGRESS)?$")
DOCKER_NFT_TABLES = ("docker-bridges", "docker")
PERSIST_FILES = re.compile(r"^etc/(iptables/rules\.v[46]|sysconfig/ip6?tables|nftables\.conf|"
                           r"sysconfig/nftables\.conf)$|systemd/")
ALIASES = {"--source": "-s", "--destination": "-d", "--protocol": "-p", "--in-interface": "-i",
           "--out-interface": "-o", "--jump": "-j", "--goto": "-g", "--match": "-m",
           "--destination-port": "--dport", "--source-port": "--sport",
           "--destination-ports": "--dports", "--source-ports": "--sports"}


@dataclass(frozen=True)
class Owner:
    kind: str  # one of KINDS
    says: str = ""  # the rule in its owner's terms ("ufw allow proto tcp from ... port 80")
    config: str = ""  # FILE:LINE of the configuration it comes from
    ufw_tuple: str = ""  # for a ufw user rule: its user.rules tuple (fixes derive from it)

    def to_json(self) -> dict[str, str]:
        out = {"owner": self.kind}
        if self.says:
            out["owner_says"] = self.says
        if self.config:
            out["owner_config"] = self.config
        return out


def option_pairs(text: str) -> frozenset[tuple[str, str]]:
    """An iptables rule's options as (option, value) pairs, order-free, with `!` kept on its
    option, long names as short ones, /32 and /128 dropped, the implicit `-m tcp|udp` dropped."""
    command = re.search(r"(?:^|\s)-[AI]\s+\S+(?:\s+\d+)?(?:\s|$)", text)
    if command:  # a unit's `ExecStart=/usr/sbin/iptables -w -I DOCKER-USER 1 ...`: the options
        text = text[command.end():]
    opts: list[list] = []  # [option, negated, values]
    negate = False
    for w in re.findall(r'"[^"]*"|\'[^\']*\'|\S+', text):
        if w == "!":
            negate = True
        elif w.startswith("-") and not re.fullmatch(r"-\d+", w):
            opts.append([ALIASES.get(w, w), negate, []])
            negate = False
        elif opts:
            opts[-1][2].append(",".join(sorted(w.split(","))) if "," in w else w.strip("'\""))
    pairs = {("!" + o if neg else o, re.sub(r"/(32|128)$", "", " ".join(vals)))
             for o, neg, vals in opts}
    return frozenset(pairs - {("-m", "tcp"), ("-m", "udp")})


class RuleOwners:
    """Owner of every rule of one host, looked up by the rule's source (file, line)."""

    def __init__(self, host: Host):
        self.host = host
        self.files = dict(host.persist)

    @cached_property
    def managers(self) -> tuple[str, ...]:
        """The firewall managers running this host's firewall: ufw when its chains are loaded,
        firewalld when its table is."""
        found = []
        tables = self.host.ruleset.tables
        if any(c.name.startswith("ufw-") for t in tables if t.origin != "nft" for c in t.chains):
            found.append("ufw")
        if any(t.name == "firewalld" and t.origin == "nft" for t in tables):
            found.append("firewalld")
        return tuple(found)

    @cached_property
    def _bridges(self) -> set[str]:
        names = {n.bridge for n in self.host.docker.networks if n.bridge}
        return names | {"docker0"}

    @cached_property
    def _subnets(self) -> list:
        return [s for n in self.host.docker.networks for s in n.subnets]

    def _docker_masquerade(self, chain: str, text: str) -> bool:
        """Docker's MASQUERADE of a network's subnet, or of a container to itself (hairpin)."""
        m = re.search(r"(?:^|\s)-s (\S+)", text)
        if chain != "POSTROUTING" or "MASQUERADE" not in text or not m:
            return False
        try:
            src = ipaddress.ip_network(m.group(1), strict=False)
        except ValueError:
            return False
        return any(src.version == s.version and src.subnet_of(s) for s in self._subnets)

    @cached_property
    def _file_lines(self) -> dict[str, list[tuple[str, int, str, Owner]]]:
        """chain -> (file, line, text, owner) of every rule line in a persist file."""
        out: dict[str, list[tuple[str, int, str, Owner]]] = {}
        for path, text in self.files.items():
            if path in ufw.UFW_FILES:
                for rl in ufw.rules_lines(path, text):
                    says = rl.rule.command if rl.rule else f"ufw {path.rsplit('/', 1)[-1]}"
                    out.setdefault(rl.chain, []).append(
                        (path, rl.line, rl.text, Owner("ufw", says, f"{path}:{rl.line}",
                                                       rl.rule.tuple if rl.rule else "")))
            elif path.endswith("firewalld/direct.xml"):
                for d in firewalld.direct_rules(path, text):
                    out.setdefault(d.chain, []).append(
                        (path, d.line, f"-A {d.chain} {d.args}",
                         Owner("firewalld", f"firewalld direct rule: {d.chain} {d.args}",
                               f"{path}:{d.line}")))
            elif PERSIST_FILES.search(path):
                for n, line in enumerate(text.splitlines(), 1):
                    m = re.search(r"(?:^|\s)-[AI]\s+(\S+)(\s|$)", line)
                    if m and not line.lstrip().startswith("#"):
                        out.setdefault(m.group(1), []).append(
                            (path, n, line.strip(), Owner("persist", "", f"{path}:{n}")))
        return out

    @cached_property
    def _zones(self) -> dict[str, list[firewalld.ZoneItem]]:
        out: dict[str, list[firewalld.ZoneItem]] = {}
        for path, text in self.files.items():
            if re.search(r"firewalld/(zones|policies)/[^/]+\.xml$", path):
                for item in firewalld.zone_items(path, text):
                    out.setdefault(item.zone, []).append(item)
        return out

    @cached_property
    def index(self) -> dict[tuple[str, int], Owner]:
        out: dict[tuple[str, int], Owner] = {}
        for table in self.host.ruleset.tables:
            for chain in table.chains:
                for rule in chain.rules:
                    if rule.source is not None:
                        out[(rule.source.file, rule.source.line)] = self._owner(
                            table, chain.name, rule)
        return out

    def at(self, file: str, line: int) -> Owner | None:
        return self.index.get((file, line))

    def of(self, rule: Rule) -> Owner | None:
        return self.at(rule.source.file, rule.source.line) if rule.source else None

    def _owner(self, table: Table, chain: str, rule: Rule) -> Owner:
        if table.origin == "nft":
            return self._nft_owner(table, chain, rule)
        text = rule.text
        target = _target(text)
        if chain.startswith("NFLENS") or target.startswith("NFLENS"):
            return Owner("nflens")
        banner = self._banner(table.family, chain, text)
        if banner is not None:
            return banner
        in_file = self._in_files(chain, text)
        if chain.startswith(("ufw-", "ufw6-")) or target.startswith(("ufw-", "ufw6-")):
            return in_file if in_file and in_file.kind == "ufw" else Owner(
                "ufw", "generated by ufw (its chains and default policies)")
        if in_file is not None:
            return in_file
        if not table.origin.startswith("iptables"):
            return Owner("admin")  # ebtables/arptables: Docker writes none
        if DOCKER_CHAINS.match(chain) or DOCKER_CHAINS.match(target) or \
                (target == "DOCKER-USER" and chain == "FORWARD") or \
                (chain == "DOCKER-USER" and text.strip() == "-A DOCKER-USER -j RETURN") or \
                self._mentions_bridge(text) and chain != "DOCKER-USER" or \
                self._docker_masquerade(chain, text):
            return Owner("docker")
        return Owner("admin")

    @cached_property
    def jails(self) -> dict[str, fail2ban.Jail]:
        return fail2ban.jails(self.files)

    @cached_property
    def bouncer_tables(self) -> tuple[str, ...]:
        return fail2ban.bouncer_nft_tables(self.files)

    def _banner(self, family: str, chain: str, text: str) -> Owner | None:
        """fail2ban's and CrowdSec's rules, by their chains and sets (managers/fail2ban.py),
        before the persist files: `netfilter-persistent save` copies them there too, and the
        banner re-creates them whatever a file says."""
        target = _target(text)
        sets = re.findall(r"--match-set (\S+) src", text)
        if chain in fail2ban.CROWDSEC_CHAINS or target in fail2ban.CROWDSEC_CHAINS or \
                any(fail2ban.CROWDSEC_SET.match(s) for s in sets):
            chains, config = fail2ban.bouncer_chains(self.files)
            return Owner("crowdsec", "crowdsec-firewall-bouncer (iptables_chains: "
                         f"{', '.join(chains)})", config)
        jail = next((n for n in (fail2ban.jail_of_chain(chain), fail2ban.jail_of_chain(target),
                                 *(fail2ban.jail_of_chain(s, family) for s in sets)) if n),
                    None)
        if jail is None:
            return None
        known = self.jails.get(jail)
        where = f"fail2ban jail {jail}" + (f" (chain = {known.chain})" if known else "")
        ports = re.search(r"--dports (\S+)", text)
        scope = f"ports {ports.group(1)}" if ports else "all ports"
        ban = re.search(r"(?:^|\s)-s (\S+)", text)
        if chain.startswith("f2b-") and ban:
            says = f"{where}: ban of {re.sub(r'/(32|128)$', '', ban.group(1))}"
        elif chain.startswith("f2b-"):
            says = f"{where}: end of its chain (not banned)"
        elif sets:
            says = f"{where}: bans in ipset {sets[0]} on {scope}"
        else:
            says = f"{where}: the jump to its chain on {scope}"
        return Owner("fail2ban", says, known.config() if known else "")

    def _in_files(self, chain: str, text: str) -> Owner | None:
        """The file line that says the most of this rule (all its options are in the rule):
        `-p tcp --dport 80 -j ACCEPT` must not claim the rule of `-s NET -p tcp --dport 80`."""
        have = option_pairs(text)
        best: tuple[int, Owner] | None = None
        for _, _, line, owner in self._file_lines.get(chain, ()):
            want = option_pairs(line)
            if want and want <= have and (best is None or len(want) > best[0]):
                best = (len(want), owner)
        return best[1] if best else None

    def _mentions_bridge(self, text: str) -> bool:
        words = set(re.findall(r"[-\w.+]+", text))
        return bool(words & self._bridges) or bool(re.search(r"(^|\s)-[io] br-[0-9a-f]{12}\b",
                                                             text))

    def _nft_owner(self, table: Table, chain: str, rule: Rule) -> Owner:
        if table.name in DOCKER_NFT_TABLES:
            return Owner("docker")
        if table.name == "nflens":
            return Owner("nflens")
        if table.name in fail2ban.F2B_NFT_TABLES:
            return Owner("fail2ban", f"fail2ban's nftables action (table {table.family} "
                         f"{table.name})")
        if table.name in self.bouncer_tables:
            chains, config = fail2ban.bouncer_chains(self.files)
            return Owner("crowdsec", f"crowdsec-firewall-bouncer, nftables mode (table "
                         f"{table.family} {table.name})", config)
        if table.name == "firewalld":
            return self._firewalld(chain, rule)
        for path, text in self.files.items():
            if PERSIST_FILES.search(path) and path.endswith(".conf"):
                for n, line in enumerate(text.splitlines(), 1):
                    if re.search(rf"\btable\s+{table.family}\s+{re.escape(table.name)}\b", line):
                        return Owner("persist", "", f"{path}:{n}")
        return Owner("admin")

    def _firewalld(self, chain: str, rule: Rule) -> Owner:
        role = firewalld.chain_role(chain)
        if role is None:
            return Owner("firewalld", "generated by firewalld (dispatch to its zones)")
        hook, zone, kind = role
        items = self._zones.get(zone, [])
        item = _zone_item_for(items, rule.text)
        where = f"firewalld {kind} {zone}"
        if item is not None:
            return Owner("firewalld", f"{where}: {item.says}",
                         f"{item.file}:{item.line}" if item.line else item.file)
        config = next((i.file for i in items), "")
        services = [i.says.removeprefix("service ") for i in items if i.kind == "service"]
        if services and chain.endswith("_allow"):
            return Owner("firewalld", f"{where}: one of its services ({', '.join(services)}) "
                         "or a default of the zone", config)
        return Owner("firewalld", f"{where} ({hook}): generated from the {kind}'s settings",
                     config)


def _target(text: str) -> str:
    m = re.search(r"(?:^|\s)-[jg] (\S+)", text)
    return m.group(1) if m else ""


def _zone_item_for(items: list[firewalld.ZoneItem], text: str) -> firewalld.ZoneItem | None:
    """The zone element an nft rule of firewalld comes from: a rich rule with its source and
    port, else a port, else a source of the zone."""
    ports = set(re.findall(r"\bdport (\d+)", text))
    addrs = set(re.findall(r"\bsaddr ([0-9a-fA-F:.]+(?:/\d+)?)", text))
    addrs |= {a.split("/")[0] for a in addrs if a.endswith(("/32", "/128"))}
    for want_addr, want_port, kinds in ((True, True, ("rich rule",)), (False, True, ("rich rule",
                                        "port", "forward-port")), (True, False, ("source",
                                                                                  "rich rule"))):
        for item in items:
            if item.kind not in kinds:
                continue
            if want_port and (not item.port or item.port not in ports):
                continue
            if want_addr and (not item.address or item.address not in addrs):
                continue
            if not want_addr and item.kind == "rich rule" and item.address:
                continue
            return item
    return None


def annotate(refs, owners: RuleOwners) -> None:
    """Add owner keys to rule references in JSON answers: dicts with `file` and `line` (audit's
    `rules`, check's `path` rule steps and `stopped_at`), or with a `rule` string that starts
    with `FILE:LINE ` (exposure's `admitted_by`)."""
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        file, line = ref.get("file"), ref.get("line")
        if file is None and isinstance(ref.get("rule"), str):
            m = re.match(r"^(\S+):(\d+) ", ref["rule"])
            file, line = (m.group(1), int(m.group(2))) if m else (None, None)
        owner = owners.at(file, line) if file and line else None
        if owner is not None:
            ref.update(owner.to_json())


def annotate_result(result: dict, owners: RuleOwners) -> dict:
    """One `check`/`trace` JSON result with the owner of every rule it names."""
    annotate([s for s in result.get("path", []) if s.get("step") == "rule"], owners)
    if result.get("stopped_at"):
        annotate([result["stopped_at"]], owners)
    return result


def annotate_audit(result: dict, owners: RuleOwners) -> dict:
    for f in result.get("findings", []):
        annotate(f.get("rules", []), owners)
    for e in result.get("exposure", []):
        for r in e.get("reachable_from", []):
            annotate(r.get("admitted_by", []), owners)
    return result
