"""The wheel a user installs: built without warnings, installed into a fresh virtual environment
with only its base dependencies, `nflens --version` and `nflens audit` work there, and the
commands that need an extra say which.

Needs the package index pip is configured with (pip fetches setuptools for the build and the
base dependencies for the install): deselect offline with `-m "not install"`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nflens import __version__
from tests.conftest import EXAMPLES, REPO

pytestmark = [pytest.mark.install, pytest.mark.timeout(600)]
SNAP = EXAMPLES / "snapshot-example"


def _run(argv: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=540,
                          stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory) -> tuple[Path, str]:
    """Build from a copy of the source tree (a build writes build/ and *.egg-info beside it)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", dist, src])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(dist.glob("nflens-*.whl"))
    assert len(wheels) == 1
    return wheels[0], proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def venv(wheel_build, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "v"
    assert _run([sys.executable, "-m", "venv", env]).returncode == 0
    proc = _run([env / "bin/python", "-m", "pip", "install", "-q", wheel_build[0]])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return env


def test_the_wheel_builds_without_a_deprecation_warning(wheel_build):
    _, log = wheel_build
    assert "Successfully built nflens" in log or "Created wheel for nflens" in log
    for word in ("deprecated", "DeprecationWarning", "BuildBackendWarning"):
        assert word not in log, [line for line in log.splitlines() if word in line][:5]


def test_the_wheel_carries_the_license_and_its_spdx_expression(wheel_build):
    import zipfile

    with zipfile.ZipFile(wheel_build[0]) as whl:
        names = whl.namelist()
        meta = whl.read(f"nflens-{__version__}.dist-info/METADATA").decode()
    assert f"nflens-{__version__}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in meta.splitlines()
    assert not any("scapy" in line for line in meta.splitlines())


def test_a_fresh_venv_runs_nflens_version(venv):
    proc = _run([venv / "bin/nflens", "--version"])
    assert (proc.returncode, proc.stdout) == (0, f"nflens {__version__}\n")


def test_a_fresh_venv_audits_the_example_snapshot_like_the_checkout(venv, tmp_path):
    installed = _run([venv / "bin/nflens", "audit", "--snapshot", SNAP, "--json"], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    here = _run([sys.executable, "-m", "nflens", "audit", "--snapshot", SNAP, "--json"])
    assert json.loads(installed.stdout) == json.loads(here.stdout)
    assert json.loads(installed.stdout)["findings"]


def test_the_base_install_has_neither_the_docker_sdk_nor_pyroute2(venv):
    for module in ("docker", "pyroute2", "scapy"):
        proc = _run([venv / "bin/python", "-c", f"import {module}"])
        assert proc.returncode != 0, f"{module} is installed without an extra"


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab checks root first")
def test_the_lab_without_its_extra_names_the_extra(venv):
    proc = _run([venv / "bin/nflens", "lab", "run", "seed001"])
    assert proc.returncode == 2
    assert "nflens[lab]" in proc.stderr and "Traceback" not in proc.stderr
