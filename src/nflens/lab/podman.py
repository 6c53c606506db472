"""Rootful Podman inside a lab's host namespace (issue 27): netavark writes its firewall there.

Facts found by trying (Debian 12 machine, kernel 6.x, cgroup v1; podman 4.3.1 / netavark 1.4.0
and podman 5.8.6 / netavark 1.17.2 from lab/podman_versions.py):
- Podman has no daemon: every `podman` command runs under `nsenter --mount=... --net=...` in
  the host's network namespace and its private mount namespace (lab/mountns.py). netavark,
  started by podman, creates the bridge, the veth pairs and the firewall in that namespace;
  conmon (one per container) stays there, so teardown finds it by its namespace, and the
  container processes sit in the cgroup `nfl-<id>` (`--cgroup-parent`, cgroupfs manager).
- The machine has no /etc/containers: the host's /etc is an overlay of the machine's with a
  writable layer of the lab's (HostMounts etc_overlay), where containers.conf, storage.conf,
  policy.json and registries.conf are written at their real paths -- podman reads them there and
  `nflens snapshot collect` in that namespace finds them as on a real host. Networks go to
  /etc/containers/networks (the rootful default), netavark's state to /run (the private tmpfs),
  the storage (vfs driver, no overlay mounts to leak) to the lab's data folder.
- podman makes each container's network namespace under /run/netns of the private /run, so it
  never appears in the machine's /run/netns.
- There is no registry: the image is `podman import` of the Docker lab's busybox tarball.
- `firewall_driver` in containers.conf ([network]) chooses netavark 1.17's driver ("iptables" or
  "nftables"); podman 4.3 / netavark 1.4 has iptables only and the key is not written.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nflens.errors import ToolError
from nflens.lab import podman_versions
from nflens.lab.dockerd import IMAGE, busybox_tar
from nflens.lab.mountns import HostMounts
from nflens.lab.netns import Lab, run_in
from nflens.proc import Completed

POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


@dataclass(frozen=True)
class PodmanConfig:
    version: str = "5"  # podman_versions.KEYS
    driver: str = "iptables"  # netavark's firewall_driver: "iptables" | "nftables"

    @property
    def label(self) -> str:
        return f"{podman_versions.get(self.version).version}-{self.driver}"


def containers_conf(install: podman_versions.Install, driver: str) -> str:
    """The host's /etc/containers/containers.conf: the tree's binaries, cgroupfs, the driver."""
    # podman 4.3 asks runc for nofile/nproc limits above the lab's hard limits (no
    # CAP_SYS_RESOURCE here): runc fails with EPERM, so the limits are named
    lines = ["[containers]", 'default_ulimits = ["nofile=1024:4096", "nproc=512:512"]', "",
             "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"',
             f"conmon_path = [{json.dumps(install.conmon)}]",
             f"helper_binaries_dir = [{json.dumps(install.helpers)}]", 'runtime = "runc"',
             "", "[engine.runtimes]", f"runc = [{json.dumps(podman_versions.RUNC)}]",
             "", "[network]", 'network_backend = "netavark"']
    if install.version.key != "4":
        lines.append(f"firewall_driver = {json.dumps(driver)}")
    return "\n".join(lines) + "\n"


class Podman:
    """Rootful podman of version `config.version` in host namespace `ns` of `lab`."""

    def __init__(self, lab: Lab, ns: str, config: PodmanConfig | None = None,
                 mounts: HostMounts | None = None):
        """`mounts`: the host's private mount namespace, made with `etc_overlay=True`; one is
        made when not given."""
        self.lab, self.ns = lab, ns
        self.config = config or PodmanConfig()
        self.install = podman_versions.provide(self.config.version)
        self.mounts = mounts
        self.storage = lab.data_dir / "podman-storage"

    def start(self) -> None:
        """Write the host's /etc/containers (no daemon to start) and import the image."""
        self.lab.add_dir(self.lab.data_dir, mounts=True)  # the /etc overlay, storage, image
        if self.mounts is None:
            self.mounts = HostMounts(self.lab, self.ns)
            self.mounts.create(etc_overlay=True)
        self.lab.add_dir(self.storage, mounts=True)
        self.lab.add_cgroup(f"nfl-{self.lab.id}")
        upper = self.mounts.etc_upper
        if upper is None:
            raise ToolError("the host's mount namespace has no /etc overlay (etc_overlay=True)")
        etc = Path(upper) / "containers"
        (etc / "networks").mkdir(parents=True, exist_ok=True)
        (etc / "containers.conf").write_text(containers_conf(self.install, self.config.driver))
        (etc / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = {json.dumps(str(self.storage))}\n'
            'runroot = "/run/containers/storage"\n')
        (etc / "policy.json").write_text(json.dumps(POLICY) + "\n")
        (etc / "registries.conf").write_text("unqualified-search-registries = []\n")
        self.build_image()

    def argv(self, *args: str) -> list[str]:
        env = [f"{k}={v}" for k, v in self.install.env().items()]
        return ["env", *env, self.install.podman, *args]

    def run(self, *args: str, timeout: float = 60, check: bool = True,
            stdin: str | None = None) -> Completed:
        if self.mounts is None:
            raise ToolError("podman is not started")
        return run_in(self.ns, self.argv(*args), timeout=timeout, check=check,
                      runner=self.lab.runner, mount=self.mounts.file, stdin=stdin)

    def command(self) -> list[str]:
        """The podman command as `snapshot collect` runs it (inside the mount namespace)."""
        return self.argv()

    def build_image(self) -> str:
        tar = self.lab.data_dir / "busybox.tar"
        tar.write_bytes(busybox_tar())
        self.run("import", "--change", 'CMD ["/bin/sh"]', str(tar), IMAGE)
        return IMAGE

    def network(self, name: str, subnet: str, gateway: str, *opts: str) -> None:
        self.run("network", "create", "--subnet", subnet, "--gateway", gateway, *opts, name)

    def run_server(self, name: str, port: int = 80, network: str | None = None,
                   ip: str | None = None, publish: tuple[str, ...] = (), *extra: str) -> str:
        """A container running busybox httpd that answers `nflens:<name>` on `port`."""
        cmd = (f"mkdir -p /tmp/www && echo nflens:{name} > /tmp/www/index.html"
               f" && exec httpd -f -p {port} -h /tmp/www")
        args = ["run", "-d", "--name", name, "--cgroup-parent", f"/nfl-{self.lab.id}"]
        if network:
            args += ["--network", network + (f":ip={ip}" if ip else "")]
        for p in publish:
            args += ["-p", p]
        out = self.run(*args, *extra, IMAGE, "sh", "-c", cmd).stdout.strip()
        return out.splitlines()[-1] if out else name

    def exec(self, name: str, argv: list[str], timeout: float = 15) -> Completed:
        return self.run("exec", name, *argv, timeout=timeout, check=False)

    def inspect(self, name: str) -> dict[str, Any]:
        data = json.loads(self.run("inspect", name).stdout)
        return data[0] if isinstance(data, list) else data

    def stop(self) -> None:
        """Remove every container at once (SIGKILL: busybox httpd as PID 1 ignores SIGTERM)."""
        if self.mounts is not None:
            self.run("rm", "-a", "-f", "-t", "0", check=False, timeout=60)

    def sh(self, line: str) -> str:
        if self.mounts is None:
            raise ToolError("podman is not started")
        return self.mounts.sh(line).stdout


def quoted(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
