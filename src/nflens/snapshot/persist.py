"""The optional persist/ folder of a snapshot: the files that decide what the firewall looks
like after a reboot, a `systemctl restart docker` or an nftables reload.

Copied read-only from the host's filesystem (`root`, / on a live host): nftables.conf,
iptables-persistent and RHEL save files, ufw and firewalld configuration (/etc/default/ufw
holds ufw's forward policy; firewalld's direct rules live in direct.xml), and every systemd
unit (or drop-in) whose text calls iptables, ip6tables, nft or ebtables. Paths keep their place
under persist/ (persist/etc/nftables.conf), which is how `audit` names them.
"""

from __future__ import annotations

import re
from pathlib import Path

# fail2ban's jails and CrowdSec's firewall bouncer (managers/fail2ban.py); the bouncer's YAML
# holds its LAPI key, which is replaced before the file is written (it never leaves the host)
SECRETS = "etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
SECRET_LINE = re.compile(r"(?m)^([ \t]*api_key[ \t]*:).*$")
SECRET_SED = r"s/^\([[:blank:]]*api_key[[:blank:]]*:\).*$/\1 REDACTED/"  # the same, for sh
FIXED = ("etc/nftables.conf", "etc/iptables/rules.v4", "etc/iptables/rules.v6",
         "etc/sysconfig/iptables", "etc/sysconfig/ip6tables", "etc/sysconfig/nftables.conf",
         "etc/ufw/ufw.conf", "etc/ufw/before.rules", "etc/ufw/after.rules",
         "etc/ufw/before6.rules", "etc/ufw/after6.rules", "etc/ufw/user.rules",
         "etc/ufw/user6.rules", "etc/default/ufw", "etc/ufw/sysctl.conf",
         "etc/firewalld/firewalld.conf", "etc/firewalld/direct.xml", "etc/docker/daemon.json",
         "etc/fail2ban/jail.conf", "etc/fail2ban/jail.local", SECRETS,
         # Podman's netavark firewall driver (podmanfiles.py); the distribution's defaults too
         "etc/containers/containers.conf", "usr/share/containers/containers.conf")
GLOBS = ("etc/firewalld/zones/*.xml", "etc/firewalld/policies/*.xml",
         "etc/firewalld/ipsets/*.xml", "etc/firewalld/services/*.xml",
         "etc/systemd/system/*.service", "etc/systemd/system/*.service.d/*.conf",
         "lib/systemd/system/*.service", "usr/lib/systemd/system/*.service",
         "etc/fail2ban/jail.d/*.conf", "etc/fail2ban/jail.d/*.local",
         "etc/fail2ban/action.d/*.local", "etc/containers/containers.conf.d/*.conf")
# a POSIX ERE too: snapshot/script.py greps units for the same words
FIREWALL_TOOLS = r"ip6?tables(-restore)?|nft|ebtables(-restore)?|nflens"
CALLS_FIREWALL = re.compile(rf"\b({FIREWALL_TOOLS})\b")
MAX_BYTES = 1 << 20


def collect_persist(out_dir: Path, root: Path = Path("/")) -> list[str]:
    """Copy what exists into out_dir/persist/; returns the relative paths copied."""
    copied = []
    candidates = [root / f for f in FIXED]
    for pattern in GLOBS:
        candidates += sorted(root.glob(pattern))
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        try:
            if not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "systemd" in rel and not CALLS_FIREWALL.search(text):
            continue  # a unit that never touches the firewall
        if rel == SECRETS:
            text = SECRET_LINE.sub(r"\1 REDACTED", text)
        dest = out_dir / "persist" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        copied.append(rel)
    return copied
