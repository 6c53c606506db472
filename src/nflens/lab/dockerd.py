"""A real dockerd inside a lab's "host" namespace, separate from any other dockerd on the machine.

Facts found by trying (Debian docker.io 20.10.24, containerd 1.6.20, runc 1.1.5, kernel 6.x):
- `nsenter --net=/run/netns/NAME dockerd ...` is enough: dockerd and everything it starts share
  the root mount namespace but see only the lab's network stack, so docker0, its iptables rules
  and docker-proxy all live in the namespace. `ip netns exec` must not be used: it remounts /sys
  for the namespace, which hides /sys/fs/cgroup from runc.
- With its own `--exec-root` (and `--data-root`), dockerd starts a *managed* containerd whose
  state, socket (`<exec-root>/containerd/containerd.sock`) and config live under the exec-root
  and whose root under `<data-root>/containerd`, so it never meets the machine's containerd.
  `--containerd-namespace` keeps its objects apart too. No separate containerd is needed.
- Startup to a ping-able API takes about 0.5 s; `docker import` of a busybox image 0.15 s;
  `docker run` about 0.4 s. The `vfs` storage driver works and is the safest choice (no overlay
  mounts to leak); the busybox image is 2 MB so vfs's full copy per container is cheap.
- dockerd bind-mounts its data-root onto itself (making it private) and puts the containers'
  network namespaces under `<exec-root>/netns/` as nsfs mounts; a clean SIGTERM stops the
  containers and unmounts all of that. After a SIGKILL those mounts remain: the Lab registry
  records both roots as mount roots so teardown unmounts whatever is left.
- `--cgroup-parent nfl-<id>` puts every container in a cgroup of its own per run (cgroupfs
  driver, there is no systemd), so teardown can find and kill container processes even after
  dockerd died, and remove the cgroup directories.
- dockerd sets net.ipv4.ip_forward=1 itself and, only when it had to turn it on, sets the
  FORWARD policy to DROP (libnetwork `setupIPForwarding`); a lab that enables forwarding first
  keeps FORWARD ACCEPT, as many real hosts do.
- With userland-proxy=true, one `docker-proxy` process per published port and family listens
  in the namespace. With false, dockerd itself keeps a listening socket on the host port (a
  reservation: `ss` shows `dockerd`; it accepts and never answers), sets route_localnet=1 on
  the bridge and drops the `! -d 127.0.0.0/8` from nat OUTPUT, so 127.0.0.1:PORT is DNATed.
- The same holds for Debian 13's dockerd 26.1.5 and sid's 28.5.2 (lab/versions.py: unpacked
  into a cache, started by absolute path with their own bin folder first in PATH so the
  managed containerd is theirs; every version uses the machine's runc). Startup takes about
  1-3 s. dockerd 28 writes raw-table drops, DOCKER-FORWARD/-CT/-BRIDGE and, by default,
  ip6tables rules; its docker-proxy is named by `userland-proxy-path`.
- Containers whose PID 1 is busybox httpd ignore SIGTERM (PID 1 has no default handlers), so
  `docker stop` would wait 10 s each: the lab removes containers with force (SIGKILL).
"""

from __future__ import annotations

import io
import json
import signal
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nflens.errors import ToolError
from nflens.lab import versions
from nflens.lab.netns import Lab, alive
from nflens.proc import Process

IMAGE = "nflens/busybox:lab"
# busybox-static applets the lab uses (Debian's build has httpd, nc, wget, timeout, ip ...).
APPLETS = ("sh", "nc", "httpd", "wget", "sleep", "cat", "echo", "mkdir", "timeout", "ip", "ls",
           "ping", "ps", "kill", "netstat", "grep")
BUSYBOX = "/usr/bin/busybox"


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon.json of a lab daemon (only what scenarios vary)."""

    userland_proxy: bool = True
    iptables: bool = True
    icc: bool = True
    ipv6: bool = False
    fixed_cidr_v6: str | None = None
    ip6tables: bool = False
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def daemon_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"userland-proxy": self.userland_proxy,
                                "iptables": self.iptables, "icc": self.icc}
        if self.ipv6:
            data["ipv6"] = True
            data["fixed-cidr-v6"] = self.fixed_cidr_v6 or "fd00:dead:beef::/64"
        if self.ip6tables:  # experimental in 20.10
            data.update({"ip6tables": True, "experimental": True})
        data.update(dict(self.extra))
        return data


class Dockerd:
    """dockerd running in namespace `ns` of `lab`, talking on its own unix socket."""

    def __init__(self, lab: Lab, ns: str, config: DaemonConfig | None = None,
                 docker: str = versions.DEFAULT, mount: Path | None = None,
                 install: Any = None):
        """`docker`: the Docker version key (versions.KEYS). `mount`: the host's private mount
        namespace (lab/mountns.py), entered by dockerd too (it must find firewalld on that
        namespace's D-Bus). `install`: binaries to use instead of the version's (an object with
        `dockerd`, `path_dirs`, `proxy`, `env_path()`, as versions.Install)."""
        self.lab = lab
        self.ns = ns
        self.config = config or DaemonConfig()
        self.docker = docker
        self.mount = mount
        self.install: Any = install
        self.run_dir = lab.state_dir
        self.sock = self.run_dir / "docker.sock"
        self.daemon_json = self.run_dir / "daemon.json"
        self.log = self.run_dir / "dockerd.log"
        self._client = None
        self._proc: Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def argv(self) -> list[str]:
        """`env PATH=...` first: dockerd finds its containerd (and containerd its shim) through
        PATH, so a cached version runs its own and the machine's runc. env execs dockerd, so the
        spawned pid is still dockerd's."""
        run_id = self.lab.id
        install = self.install or versions.provide(self.docker, self.lab.runner)
        env = ["env", f"PATH={install.env_path()}"] if install.path_dirs else []
        return env + [install.dockerd, "--exec-root", str(self.run_dir / "exec"),
                "--data-root", str(self.lab.data_dir / "docker"),
                "--pidfile", str(self.run_dir / "docker.pid"), "-H", self.url,
                "--config-file", str(self.daemon_json), "--storage-driver", "vfs",
                "--cgroup-parent", f"nfl-{run_id}", "--containerd-namespace", f"nfl-{run_id}",
                "--containerd-plugins-namespace", f"nfl-{run_id}-plugins", "--log-level", "warn"]

    def start(self, timeout: float = 60) -> None:
        if self.install is None:
            # VersionMissing names what is missing
            self.install = versions.provide(self.docker, self.lab.runner)
        self.lab.add_dir(self.run_dir / "exec", mounts=True)
        self.lab.add_dir(self.lab.data_dir, mounts=True)
        self.lab.add_cgroup(f"nfl-{self.lab.id}")
        self.daemon_json.write_text(json.dumps(self.written_json(), indent=1) + "\n")
        self._proc = self.lab.spawn(self.ns, self.argv(), log=self.log, graceful=True,
                                    mount=self.mount)
        self._wait_ready(timeout)

    def written_json(self) -> dict[str, Any]:
        """The config's daemon.json, plus this version's own docker-proxy when it is cached."""
        data = self.config.daemon_json()
        if self.install is not None and self.install.proxy and self.config.userland_proxy:
            data["userland-proxy-path"] = self.install.proxy
        return data

    def _wait_ready(self, timeout: float) -> None:
        import docker

        deadline = time.monotonic() + timeout
        proc = self._proc
        if proc is None:
            raise ToolError("dockerd was not started")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ToolError(f"dockerd exited with {proc.returncode}: {self._tail()}")
            if self.sock.exists():
                try:
                    client = docker.DockerClient(base_url=self.url, timeout=30)
                    client.ping()
                    self._client = client
                    return
                except Exception:  # noqa: BLE001 - socket there, API not yet
                    pass
            time.sleep(0.1)
        raise ToolError(f"dockerd did not answer on {self.sock} within {timeout}s: {self._tail()}")

    def _tail(self) -> str:
        try:
            return " | ".join(self.log.read_text().splitlines()[-5:])
        except OSError:
            return "(no log)"

    @property
    def client(self):
        if self._client is None:
            raise ToolError("dockerd is not running")
        return self._client

    def build_image(self) -> str:
        """`docker import` a tarball of busybox-static with applet symlinks: no registry needed."""
        self.client.api.import_image_from_data(busybox_tar(), repository=IMAGE.split(":")[0],
                                               tag=IMAGE.split(":")[1],
                                               changes=['CMD ["/bin/sh"]'])
        return IMAGE

    def run_server(self, name: str, port: int = 80, network: str | None = None,
                   ip: str | None = None, ports: dict[str, Any] | None = None,
                   ip6: str | None = None, **kwargs: Any):
        """A container running busybox httpd that answers `nflens:<name>` on `port`."""
        cmd = ["sh", "-c", f"mkdir -p /tmp/www && echo nflens:{name} > /tmp/www/index.html"
               f" && exec httpd -f -p {port} -h /tmp/www"]
        create: dict[str, Any] = dict(name=name, command=cmd, detach=True, ports=ports or {},
                                      **kwargs)
        if network and ip:
            return self._run_with_ip(name, network, ip, create, ip6)
        if network:
            create["network"] = network
        return self.client.containers.run(IMAGE, **create)

    def _run_with_ip(self, name: str, network: str, ip: str, create: dict[str, Any],
                     ip6: str | None = None):
        """A fixed address needs the endpoint config of the API, not `containers.run(network=)`."""
        api = self.client.api
        host_config = api.create_host_config(port_bindings=_bindings(create.pop("ports")),
                                             network_mode=network)
        netcfg = api.create_networking_config({network: api.create_endpoint_config(
            ipv4_address=ip, ipv6_address=ip6)})
        exposed = list(host_config.get("PortBindings", {}).keys())
        created = api.create_container(IMAGE, command=create.pop("command"), name=name,
                                       host_config=host_config, networking_config=netcfg,
                                       ports=[_port_tuple(p) for p in exposed] or None)
        api.start(created["Id"])
        return self.client.containers.get(created["Id"])

    def stop(self, timeout: float = 15) -> None:
        """Remove containers, then SIGTERM dockerd (it unmounts), SIGKILL after `timeout`."""
        if self._client is not None:
            try:
                for c in self._client.containers.list(all=True):
                    c.remove(force=True)
            except Exception:  # noqa: BLE001 - best effort; teardown kills what is left
                pass
            self._client.close()
            self._client = None
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except TimeoutError:
            if alive(self._proc.pid):
                self._proc.kill()
                self._proc.wait(5)


def _bindings(ports: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (ports or {}).items()}


def _port_tuple(key: str) -> tuple[int, str] | int:
    port, _, proto = str(key).partition("/")
    return (int(port), proto) if proto and proto != "tcp" else int(port)


def busybox_tar() -> bytes:
    """A minimal root filesystem: /bin/busybox, applet symlinks, /tmp, /etc/passwd."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "www"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        passwd = b"root:x:0:0:root:/:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()
