"""fail2ban's jails and CrowdSec's firewall bouncer, read from their configuration files and
recognised in the rules they create.

fail2ban (config/action.d of fail2ban 0.11/1.0, the iptables actions; a jail's actions get
`name=%(__name__)s`, so the chain and set are named after the jail):
- iptables-multiport / iptables[type=multiport]: `-N f2b-<name>`, `-A f2b-<name> -j RETURN`,
  `-I <chain> -p <protocol> -m multiport --dports <port> -j f2b-<name>`; a ban is
  `-I f2b-<name> 1 -s <ip> -j <blocktype>` (blocktype `REJECT --reject-with
  icmp-port-unreachable`). iptables-allports: the jump has no port match.
- iptables-ipset-proto6(-allports) / iptables-ipset: an ipset `f2b-<name>` (`f2b-<name>6` for
  IPv6) and `-I <chain> -p <protocol> -m multiport --dports <port> -m set --match-set
  f2b-<name> src -j <blocktype>`; bans are set members, not rules.
- nftables: its own `table inet f2b-table` (chain f2b-chain, sets addr-set-<name>).
Jail options are read as fail2ban reads them: jail.conf, jail.d/*.conf, jail.local,
jail.d/*.local, later files overriding earlier ones per section, [DEFAULT] beneath every jail;
`chain` defaults to INPUT (action.d/iptables.conf [Init]).

CrowdSec's cs-firewall-bouncer (iptables mode): a chain CROWDSEC_CHAIN jumped to from each of
`iptables_chains` (default INPUT only), `-A CROWDSEC_CHAIN -m set --match-set
crowdsec-blacklists[-N] src -j DROP` (crowdsec6-blacklists for IPv6); nftables mode: tables
`ip crowdsec` and `ip6 crowdsec6` with their sets. Its YAML is the bouncer's configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nflens import safeyaml
from nflens.errors import ParseError

JAIL_FILES = re.compile(r"^etc/fail2ban/(jail\.(conf|local)|jail\.d/[^/]+\.(conf|local))$")
BOUNCER_FILE = "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
F2B_CHAIN = re.compile(r"^f2b-(.+)$")
F2B_NFT_TABLES = ("f2b-table",)
CROWDSEC_CHAINS = ("CROWDSEC_CHAIN", "CROWDSEC_LOG")
CROWDSEC_SET = re.compile(r"^crowdsec6?-blacklists(-\d+)?$")
CROWDSEC_NFT_TABLES = ("crowdsec", "crowdsec6")


@dataclass(frozen=True)
class Setting:
    value: str
    file: str
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Jail:
    """One jail's options (each with the file and line that set it last)."""

    name: str
    options: dict[str, Setting] = field(default_factory=dict)
    header: Setting | None = None  # the last `[name]` section header
    inherited: frozenset[str] = frozenset()  # options set in [DEFAULT] only

    def get(self, key: str, default: str = "") -> str:
        s = self.options.get(key)
        return s.value if s else default

    @property
    def chain(self) -> str:
        return self.get("chain", "INPUT")

    @property
    def enabled(self) -> bool:
        return self.get("enabled", "false").lower() in ("true", "yes", "1", "on")

    def config(self, key: str = "chain") -> str:
        """`FILE:LINE [jail] key = value` of the setting that decides `key` (its section
        header when the jail keeps the default)."""
        s = self.options.get(key)
        if s is not None:
            section = "DEFAULT" if key in self.inherited else self.name
            return f"{s.where()} [{section}] {key} = {s.value}"
        if self.header is not None:
            default = self.chain if key == "chain" else "its default"
            return f"{self.header.where()} [{self.name}] ({key} = {default}, the default)"
        return ""


def _order(path: str) -> tuple[int, str]:
    """fail2ban's reading order: jail.conf, jail.d/*.conf, jail.local, jail.d/*.local."""
    rank = {"etc/fail2ban/jail.conf": 0, "etc/fail2ban/jail.local": 2}.get(path)
    if rank is None:
        rank = 1 if path.endswith(".conf") else 3
    return rank, path


def _sections(path: str, text: str):
    """(section, key, Setting) of one INI file; indented lines continue the previous value,
    `#` and `;` start comments (fail2ban's ConfigParser, inline ` ;` / ` #` too)."""
    section, last = "", None
    for n, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"\s[#;]", raw, maxsplit=1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            section, last = m.group(1).strip(), None
            yield section, "", Setting("", path, n)
        elif raw[:1].isspace() and last is not None:
            key, s = last
            last = (key, Setting(f"{s.value}\n{line.strip()}", s.file, s.line))
            yield section, key, last[1]
        else:
            k, sep, v = line.partition("=")
            if sep:
                last = (k.strip(), Setting(v.strip(), path, n))
                yield section, k.strip(), last[1]


def jails(files: dict[str, str]) -> dict[str, Jail]:
    """Every jail of the host's jail files, with [DEFAULT] options beneath each."""
    default: dict[str, Setting] = {}
    found: dict[str, Jail] = {}
    for path in sorted((p for p in files if JAIL_FILES.match(p)), key=_order):
        for section, key, setting in _sections(path, files[path]):
            if section in ("INCLUDES", ""):
                continue
            if section == "DEFAULT":
                if key:
                    default[key] = setting
                continue
            jail = found.setdefault(section, Jail(section))
            if not key:
                jail.header = setting
            else:
                jail.options[key] = setting
    for jail in found.values():
        jail.inherited = frozenset(default) - frozenset(jail.options)
        jail.options = {**default, **jail.options}
    return found


def jail_of_chain(chain: str, family: str = "ip") -> str | None:
    """The jail named by a fail2ban chain or set (`f2b-sshd`; the IPv6 set `f2b-sshd6`)."""
    m = F2B_CHAIN.match(chain)
    if not m:
        return None
    name = m.group(1)
    return name[:-1] if family == "ip6" and name.endswith("6") and len(name) > 1 else name


def bouncer_chains(files: dict[str, str]) -> tuple[list[str], str]:
    """The bouncer's `iptables_chains` and the FILE:LINE that says them (its default, INPUT,
    when the file does not)."""
    text = files.get(BOUNCER_FILE)
    if text is None:
        return ["INPUT"], ""
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        m = re.match(r"^iptables_chains\s*:\s*(.*)$", line)
        if not m:
            continue
        inline = m.group(1).strip()
        if inline.startswith("["):
            return [c.strip(" '\"") for c in inline.strip("[]").split(",") if c.strip()], \
                f"{BOUNCER_FILE}:{n}"
        chains = []
        for item in lines[n:]:
            im = re.match(r"^\s*-\s*(\S+)", item)
            if im:
                chains.append(im.group(1).strip("'\""))
            elif item.strip() and not item.lstrip().startswith("#"):
                break
        return chains, f"{BOUNCER_FILE}:{n}"
    return ["INPUT"], BOUNCER_FILE



def bouncer_nft_tables(files: dict[str, str]) -> tuple[str, ...]:
    """The tables of the bouncer's nftables mode: `nftables.ipv4.table` and
    `nftables.ipv6.table` of its YAML (0.0.25 config.go nftablesConfig: crowdsec and crowdsec6
    when unset; with `set-only` they name the admin's table it fills). A YAML that does not
    parse leaves the defaults (the bouncer itself would not start with it)."""
    names = list(CROWDSEC_NFT_TABLES)
    text = files.get(BOUNCER_FILE)
    try:
        data = safeyaml.load(text, BOUNCER_FILE) if text else None
    except ParseError:
        data = None
    nft = data.get("nftables") if isinstance(data, dict) else None
    for family in ("ipv4", "ipv6"):
        conf = nft.get(family) if isinstance(nft, dict) else None
        table = conf.get("table") if isinstance(conf, dict) else None
        if isinstance(table, str) and table:
            names.append(table)
    return tuple(dict.fromkeys(names))
