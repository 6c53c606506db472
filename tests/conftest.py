"""Shared test fixtures: where the repository, its examples and ../shared are."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED = Path(os.environ.get("NFLENS_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"


# Property tests are deterministic by default (CI, `make test`): the same examples every run,
# no example database, so a red run is a real regression and a green one is not luck. The
# random search is a separate, longer run: HYPOTHESIS_PROFILE=long (every failure it finds is
# pinned with @example next to its test, so the deterministic run keeps checking it).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", derandomize=False, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(HYPOTHESIS_PROFILE)
LONG_FACTOR = 20  # the long profile tries this many times the examples of the default one


def budget(max_examples: int):
    """@settings for a property test: `max_examples` in the deterministic profile, LONG_FACTOR
    times as many (random) in the long one."""
    factor = LONG_FACTOR if HYPOTHESIS_PROFILE == "long" else 1
    return settings(max_examples=max_examples * factor)


def _can_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus; tests that need it skip cleanly without it."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(scope="session")
def example_snapshot() -> Path:
    return EXAMPLES / "snapshot-example"


def pytest_collection_modifyitems(config, items):
    """Lab tests need root and `ip`: skip them (with the reason) where that is missing."""
    if _can_netns():
        return
    skip = pytest.mark.skip(reason="needs root and iproute2 for network namespaces")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@contextlib.contextmanager
def scratch_netns(prefix: str, *needs: str):
    """A throwaway network namespace (deleted even when the test fails); skips when a tool in
    `needs` is missing. Nothing ever runs in the root namespace."""
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def docker_or_skip(key: str):
    """The Docker version `key` of the lab (nflens.lab.versions), or a skip that names the
    missing version and why -- never a silent pass."""
    from nflens.lab import versions

    try:
        return versions.provide(key)
    except versions.VersionMissing as exc:
        pytest.skip(f"Docker {versions.get(key).version} not available: {exc}")
