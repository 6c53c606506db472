"""`nflens --version`, shell completion, and the commands that need an extra naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nflens import __version__, extras
from nflens.errors import ToolError

NFLENS = Path(sys.executable).parent / "nflens"


def test_version_prints_the_package_version():
    proc = subprocess.run([sys.executable, "-m", "nflens", "--version"], capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout) == (0, f"nflens {__version__}\n")


@pytest.mark.skipif(not NFLENS.exists(), reason="the nflens console script is not installed")
def test_bash_completion_offers_the_snapshot_commands():
    env = {**os.environ, "_NFLENS_COMPLETE": "complete_bash", "COMP_WORDS": "nflens snapshot ",
           "COMP_CWORD": "2"}
    proc = subprocess.run([str(NFLENS)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert {"collect", "script", "show", "redact"} <= set(proc.stdout.split())


def test_an_extra_lists_the_packages_the_metadata_gives_it():
    requires = ['docker==7.2.0; extra == "live"', 'docker==7.2.0; extra == "lab"',
                'pyroute2==0.9.7; extra == "lab"', "rich==15.0.0", 'pytest==9.2.0; extra == "test"']
    assert extras.packages("lab", requires) == ["docker", "pyroute2"]
    assert extras.packages("live", requires) == ["docker"]
    assert extras.packages("bench", requires) == []


def test_the_installed_metadata_puts_docker_and_pyroute2_in_extras_only():
    if not extras.packages("lab"):
        pytest.skip("nflens is not installed (no metadata)")
    assert set(extras.packages("lab")) == {"docker", "pyroute2"}
    assert extras.packages("live") == ["docker"]


def test_a_missing_extra_package_is_one_error_naming_the_extra(monkeypatch):
    monkeypatch.setattr(extras, "_installed", lambda dist: dist != "docker")
    with pytest.raises(ToolError, match=r"policy watch.* needs docker.*nflens\[live\]"):
        from nflens.cli.policy_persist import watch

        watch(Path("p.yaml"), None, None, None, 2.0)


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab checks root first")
def test_the_lab_without_pyroute2_names_the_lab_extra(monkeypatch):
    from nflens.cli.lab import _need_root

    monkeypatch.setattr(extras, "_installed", lambda dist: dist != "pyroute2")
    with pytest.raises(ToolError, match=r"the lab needs pyroute2.*nflens\[lab\]"):
        _need_root()
