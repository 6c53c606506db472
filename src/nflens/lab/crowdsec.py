"""The real CrowdSec (Debian's crowdsec 1.4.6, sid) in a lab host, without a network (issue 26):
its local API holds the lab's decisions, made with `cscli decisions add --ip`, and the real
crowdsec-firewall-bouncer (lab/fail2ban.py Bouncer) pulls them from it.

Found by trying (this machine, Debian 12, no route out of the lab's namespaces):
- `crowdsec -c CONFIG` starts offline when its configuration points every path at a folder of
  the lab's: the sqlite database (db_config), no `online_client` (no Central API: "push and
  pull to Central API disabled"), prometheus off. Without a hub index it stops ("while loading
  hub index: unable to read index file .index.json"); Debian ships the hub in
  /usr/share/crowdsec/hub (with its .index.json), copied here, nothing downloaded. Without
  the grok patterns it stops too ("failed to load parser patterns"): the package's
  /etc/crowdsec/patterns are copied. Then the agent runs with 0 parsers and 0 scenarios
  (none installed) on an acquisition of one empty file, beside its local API.
- `cscli machines add lab -a` (the credentials cscli logs in with) and `cscli bouncers add
  NAME -k KEY` (the bouncer's api_key) write the database directly; `cscli decisions add`
  goes through the local API, so it runs after the API listens.
Everything runs in the lab host's network namespace (lab.spawn: stopped at teardown) with the
machine's /etc/crowdsec and /var/lib/crowdsec never read or written.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from nflens.errors import ToolError
from nflens.lab import fail2ban
from nflens.lab.netns import Lab, run_in

PACKAGE = ("crowdsec", "1.4.6-10.1+b2", "usr/bin/crowdsec")  # sid's
API_KEY = "lab-not-secret"  # the bouncer's api_key in lab/fail2ban.py BOUNCER_YAML

CONFIG = """common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: {root}/etc/
  data_dir: {root}/data/
  simulation_path: {root}/etc/simulation.yaml
  hub_dir: {root}/hub/
  index_path: {root}/hub/.index.json
  notification_dir: {root}/etc/notifications/
  plugin_dir: {install}/usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: {root}/etc/acquis.yaml
  parser_routines: 1
cscli:
  output: human
db_config:
  log_level: info
  type: sqlite
  use_wal: false
  db_path: {root}/data/crowdsec.db
api:
  client:
    insecure_skip_verify: false
    credentials_path: {root}/etc/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:{port}
    profiles_path: {root}/etc/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
"""


class Crowdsec:
    """crowdsec (agent and local API) in namespace `ns` of `lab`, configured under `root`."""

    def __init__(self, lab: Lab, ns: str, root: Path, port: int = 8081):
        self.lab, self.ns, self.root, self.port = lab, ns, root, port
        self.install = fail2ban.provide(lab.runner, package=PACKAGE)
        lab.add_dir(root)
        etc = root / "etc"
        for d in ("etc", "data", "hub"):
            (root / d).mkdir(parents=True, exist_ok=True)
        for name in ("profiles.yaml", "simulation.yaml"):
            shutil.copy(self.install / "etc/crowdsec" / name, etc / name)
        shutil.copytree(self.install / "etc/crowdsec/patterns", etc / "patterns",
                        dirs_exist_ok=True)
        shutil.copytree(self.install / "usr/share/crowdsec/hub", root / "hub",
                        dirs_exist_ok=True)
        (root / "empty.log").write_text("")
        (etc / "acquis.yaml").write_text(f"filenames:\n  - {root / 'empty.log'}\n"
                                         "labels:\n  type: syslog\n")
        self.config = etc / "config.yaml"
        self.config.write_text(CONFIG.format(root=root, install=self.install, port=port))
        self.log = root / "crowdsec.out"

    def cscli(self, *args: str) -> str:
        argv = [str(self.install / "usr/bin/cscli"), "-c", str(self.config), *args]
        try:
            return run_in(self.ns, argv, timeout=60, runner=self.lab.runner).stdout
        except ToolError as exc:
            raise ToolError(f"cscli {' '.join(args)}: {exc}") from exc

    def start(self, timeout: float = 30) -> None:
        """Register the lab's machine and the bouncer's key, start crowdsec, wait for its
        local API."""
        self.cscli("machines", "add", "lab", "-a", "--force")
        self.cscli("bouncers", "add", "lab-bouncer", "-k", API_KEY)
        self.lab.spawn(self.ns, [str(self.install / "usr/bin/crowdsec"), "-c",
                                 str(self.config)], log=self.log, graceful=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "Local API listening" in text:
                return
            if "level=fatal" in text:
                break
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace").splitlines()[-3:] if self.log.exists() \
            else ["no log"]
        raise ToolError(f"crowdsec's local API did not start: {' | '.join(tail)}")

    def ban(self, addr: str, duration: str = "4h") -> None:
        self.cscli("decisions", "add", "--ip", addr, "--duration", duration)
