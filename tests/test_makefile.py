"""Issue 29.1: `make demo` needs Python only, and `make sysdeps` never switches off a firewall
the admin had.

The Makefile is *run*, as root would run it, against fakes first on PATH: `id -u` says 0, and
`apt-get`, `dpkg-query`, `systemctl` and the virtualenv's python/pip/nflens only write what they
were asked into a log. The install guard (policy-rc.d) and systemd's run directory are
variables pointed into tmp_path, so nothing of this machine is read or written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

# every fake appends "NAME ARGS..." to $FAKE_LOG
_LOG = 'printf "%s\\n" "$(basename "$0") $*" >> "$FAKE_LOG"\n'
FAKES = {
    "id": '[ "$1" = -u ] && echo 0 && exit 0\necho "uid=0(root) gid=0(root)"\n',
    "apt-get": _LOG + 'if [ "$1" = install ]; then\n'
               '  if [ -x "$POLICY_RC_D" ]; then "$POLICY_RC_D" ufw start; '
               'echo "guard $?" >> "$FAKE_LOG"; else echo "guard none" >> "$FAKE_LOG"; fi\nfi\n',
    # dpkg-query -W -f=FORMAT PACKAGE: "installed" for the packages named in $FAKE_INSTALLED
    "dpkg-query": _LOG + 'for p in $FAKE_INSTALLED; do\n'
                  '  [ "$p" = "$3" ] && echo "install ok installed" && exit 0\ndone\n'
                  'echo "dpkg-query: no packages found matching $3" >&2; exit 1\n',
    "dpkg": _LOG + "exit 1\n",  # the old Makefile asked `dpkg -s`
    "systemctl": _LOG,
    "logger": _LOG,
    # python3 -m venv DIR: a virtualenv whose pip, python and nflens are loggers
    "python3": _LOG + 'if [ "$1" = -m ] && [ "$2" = venv ]; then\n  mkdir -p "$3/bin"\n'
               '  for t in pip nflens python; do cp "$(dirname "$0")/logger" "$3/bin/$t"; done\n'
               'fi\n',
}


def _fakes(tmp: Path) -> Path:
    bin_dir = tmp / "fakebin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _make(tmp: Path, target: str, installed: str, *variables: str) -> list[str]:
    """Run `make TARGET` of the repository's Makefile in tmp (fakes first on PATH, as root);
    the log of every faked command it ran."""
    bin_dir = _fakes(tmp)
    (tmp / "pyproject.toml").write_text("")  # venv's prerequisite, relative to the cwd
    log = tmp / "log"
    log.write_text("")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log),
           "FAKE_INSTALLED": installed, "POLICY_RC_D": str(tmp / "policy-rc.d"),
           "HOME": str(tmp), "LANG": "C"}
    run = subprocess.run(["make", "-f", str(REPO / "Makefile"), target, f"VENV={tmp}/venv",
                          f"PYTHON={bin_dir}/python3", f"POLICY_RC_D={tmp}/policy-rc.d",
                          *variables], cwd=tmp, env=env, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    return log.read_text().splitlines()


def _syspkgs() -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    line = next(li for li in text.splitlines() if li.startswith("SYSPKGS :="))
    return line.split(":=", 1)[1].split()


def test_make_demo_as_root_installs_nothing_and_touches_no_service(tmp_path):
    """Nothing installed, root, apt present: the worst case for a demo. It must only create
    the virtualenv and run nflens on the example."""
    log = _make(tmp_path, "demo", "", f"SYSTEMD_RUN={tmp_path}")
    tools = {line.split()[0] for line in log}
    assert not tools & {"apt-get", "dpkg", "dpkg-query", "systemctl"}, log
    assert not any(line.startswith("nflens lab") for line in log), log  # lab-docker: setup's
    assert "nflens snapshot show examples/snapshot-example" in log
    assert any(line.startswith("nflens audit") for line in log)
    assert not (tmp_path / "policy-rc.d").exists()


def test_make_test_still_installs_the_system_packages(tmp_path):
    """The counterpart (so the demo test above can fail): `make test`'s sysdeps, as root with
    packages missing, does reach apt-get, with ipset among the packages."""
    log = _make(tmp_path, "sysdeps", "", f"SYSTEMD_RUN={tmp_path}")
    install = next(line for line in log if line.startswith("apt-get install"))
    assert "ipset" in install.split() and "ipset" in _syspkgs()


def test_sysdeps_never_disables_a_firewall_that_was_installed_already(tmp_path):
    """ufw already installed (the admin's, maybe running), firewalld missing: only firewalld is
    installed, under the policy-rc.d guard (exit 101: no service starts), and only firewalld is
    disabled afterwards. The old recipe ran `systemctl disable --now ufw firewalld`."""
    installed = " ".join(p for p in _syspkgs() if p != "firewalld")
    log = _make(tmp_path, "sysdeps", installed, f"SYSTEMD_RUN={tmp_path}")
    install = next(line for line in log if line.startswith("apt-get install")).split()
    assert "firewalld" in install and "ufw" not in install
    assert "guard 101" in log  # services were kept from starting during the install
    assert [line for line in log if line.startswith("systemctl")] == \
        ["systemctl disable --now firewalld"]
    assert not (tmp_path / "policy-rc.d").exists()  # our guard is removed again


def test_sysdeps_with_every_firewall_present_calls_no_systemctl(tmp_path):
    installed = " ".join(p for p in _syspkgs() if p not in ("ufw", "firewalld", "dbus"))
    installed += " ufw firewalld"
    log = _make(tmp_path, "sysdeps", installed, f"SYSTEMD_RUN={tmp_path}")
    assert any(line.startswith("apt-get install") for line in log)  # dbus was missing
    assert not any(line.startswith("systemctl") for line in log), log


def test_sysdeps_keeps_an_existing_policy_rc_d(tmp_path):
    """A policy-rc.d the admin has is theirs: used as it is, never removed."""
    guard = tmp_path / "policy-rc.d"
    guard.write_text("#!/bin/sh\nexit 101\n")
    guard.chmod(0o755)
    _make(tmp_path, "sysdeps", "", f"SYSTEMD_RUN={tmp_path}")
    assert guard.read_text() == "#!/bin/sh\nexit 101\n"


def test_sysdeps_skips_when_not_root(tmp_path):
    bin_dir = _fakes(tmp_path)
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    log = tmp_path / "log"
    log.write_text("")
    run = subprocess.run(["make", "-f", str(REPO / "Makefile"), "sysdeps"], cwd=tmp_path,
                         env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "skipping system packages" in run.stdout
    assert log.read_text() == ""
