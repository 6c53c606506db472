"""The mutation fuzz of issue 16's "Must show": hostile snapshots, flows and policies through the
real CLI entry point, in-process. Zero tracebacks: every case exits 0, 1 or 2, stderr never
carries a traceback, and no raw ESC from the input reaches the output.

Every CONTRACT §2 file of a real lab snapshot (tests/fixtures/lab/seed001_input_bypass-broken)
is mutated in turn — except nft.txt, which nflens reads by loading it into the real `nft` in a
scratch namespace (root, a process per case; the lab tests cover it) — and so are a flows file
and a policy file. Deterministic: case i is a function of (NFLENS_FUZZ_SEED, i) only.
`NFLENS_FUZZ_CASES` sets the size (5,000 by default; e.g. 50000 for a long run). Every failure
ever found is kept under tests/fixtures/hostile_pinned/ and replayed by
test_pinned_cases_stay_fixed.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.hostile import mutate
from tests.inprocess import lab_copy, run_main

SEED = int(os.environ.get("NFLENS_FUZZ_SEED", "16"))
CASES = int(os.environ.get("NFLENS_FUZZ_CASES", "5000"))
PINNED = REPO / "tests" / "fixtures" / "hostile_pinned"

SNAPSHOT_FILES = (
    "iptables-save.txt", "ip6tables-save.txt", "nft.json", "ebtables-save.txt", "ip-addr.json",
    "ip-link.json", "ip-route.json", "ip6-route.json", "ip-rule.json", "ss.txt", "sysctl.txt",
    "docker-containers.json", "docker-networks.json", "docker-info.json", "docker-version.json",
    "daemon.json",
)
TARGETS = SNAPSHOT_FILES + ("flows.json", "flows.json", "policy.yaml", "policy.yaml")
FLOWS = ("lan-web", "wan-hostsvc", "web-egress")
POLICY = """version: 1
groups:
  office: [10.99.0.0/24]
inbound:
  default: open
  ports:
    - {container: web, port: 8080, from: [office]}
egress:
  - {network: bridge, default: deny, allow: [office, {to: [any], port: 443}], dns: true}
to_host:
  - {network: bridge, default: deny, allow: [8000, "53/udp"]}
"""


class World:
    """One writable snapshot, a flows file and a policy; each case changes one file and puts
    it back."""

    def __init__(self, tmp: Path):
        self.snap = lab_copy(tmp)
        flows = json.loads((self.snap / "flows.json").read_text())
        flows["flows"] = [f for f in flows["flows"] if f["name"] in FLOWS]
        self.flows = tmp / "flows.json"
        self.flows.write_text(json.dumps(flows, indent=1))
        self.policy = tmp / "policy.yaml"
        self.policy.write_text(POLICY)
        self.base = {name: (self.snap / name).read_text() for name in SNAPSHOT_FILES}
        self.base["flows.json"] = self.flows.read_text()
        self.base["policy.yaml"] = POLICY

    def path(self, target: str) -> Path:
        return {"flows.json": self.flows, "policy.yaml": self.policy}.get(target,
                                                                        self.snap / target)

    def case(self, index: int) -> tuple[str, bytes, list]:
        """(target file, its mutated bytes, the command) of case `index`."""
        rng = random.Random(f"{SEED}-{index}")
        target = TARGETS[index % len(TARGETS)]
        text = self.base[target]
        if target.endswith(".json"):
            data = mutate.mutate_json_file(text, rng)
        elif target.endswith(".yaml"):
            data = mutate.mutate_yaml_file(text, rng)
        else:
            data = mutate.mutate_text(text, rng)
        return target, data, self.command(target, rng)

    def command(self, target: str, rng: random.Random) -> list:
        if target == "flows.json":
            return ["check", "--snapshot", self.snap, self.flows]
        if target == "policy.yaml":
            return ["policy", "plan", self.policy, "--snapshot", self.snap, "--json"]
        roll = rng.random()
        if roll < 0.45:  # every reader, without rich's table layout (most of a case's time)
            return ["snapshot", "show", self.snap, "--json"]
        if roll < 0.75:
            return ["snapshot", "show", self.snap]
        if roll < 0.93:
            return ["check", "--snapshot", self.snap, self.flows]
        return ["audit", "--snapshot", self.snap, "--no-verify"]

    def run(self, target: str, data: bytes, command: list):
        path = self.path(target)
        path.write_bytes(data)
        try:
            return run_main(*command)
        finally:
            path.write_text(self.base[target])


def _verdict(run) -> str | None:
    """None when the run is clean, else what is wrong with it."""
    if run.traceback is not None:
        return run.traceback.strip().splitlines()[-1]
    if run.code not in (0, 1, 2):
        return f"exit code {run.code}"
    if "Traceback" in run.err:
        return "a traceback on stderr"
    if "\x1b" in run.out + run.err:
        return "a raw ESC in the output"
    if run.code == 2 and not run.err.strip():
        return "exit 2 without a message"
    return None


def _pin(target: str, data: bytes, command: list, index: int) -> Path:
    """Keep a failing case where test_pinned_cases_stay_fixed finds it."""
    PINNED.mkdir(parents=True, exist_ok=True)
    case = PINNED / f"{SEED}-{index:06d}"
    case.mkdir(exist_ok=True)
    (case / target).write_bytes(data)
    (case / "command.json").write_text(json.dumps({"target": target,
                                                   "command": command[0:2]}) + "\n")
    return case


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("fuzz"))


def test_mutated_inputs_never_give_a_traceback(world, capsys):
    tally: Counter[str] = Counter()
    failures = []
    for index in range(CASES):
        target, data, command = world.case(index)
        run = world.run(target, data, command)
        wrong = _verdict(run)
        if wrong is None:
            tally["clean error" if run.code == 2 else f"exit {run.code}"] += 1
            continue
        tally["traceback"] += 1
        failures.append((index, target, wrong, _pin(target, data, command, index)))
    with capsys.disabled():
        print(f"\nmutation fuzz (seed {SEED}): {CASES} cases; " +
              ", ".join(f"{k}: {v}" for k, v in sorted(tally.items())))
    assert not failures, "\n".join(f"case {i} ({t}): {w} -> pinned in {p}"
                                   for i, t, w, p in failures[:20])


def _pinned_cases() -> list[Path]:
    return sorted(p for p in PINNED.iterdir() if p.is_dir()) if PINNED.is_dir() else []


@pytest.mark.parametrize("case", _pinned_cases(), ids=lambda p: p.name)
def test_pinned_cases_stay_fixed(world, case):
    spec = json.loads((case / "command.json").read_text())
    target = spec["target"]
    data = (case / target).read_bytes()
    command = world.command(target, random.Random(0))
    if target in SNAPSHOT_FILES:
        command = {"snapshot": ["snapshot", "show", world.snap],
                   "check": ["check", "--snapshot", world.snap, world.flows],
                   "audit": ["audit", "--snapshot", world.snap, "--no-verify"]}[spec["command"][0]]
    for cmd in ([command] if target not in SNAPSHOT_FILES else
                [command, ["snapshot", "show", world.snap, "--json"]]):
        wrong = _verdict(world.run(target, data, cmd))
        assert wrong is None, f"{case.name}: {wrong}"


def test_the_fuzz_reaches_every_snapshot_file_and_each_command(world):
    """The CI size exercises what the docstring says (a mutation engine that silently stopped
    producing some file's cases would pass the main test trivially)."""
    seen = Counter()
    unchanged = 0
    for index in range(400):
        target, data, command = world.case(index)
        unchanged += data == world.base[target].encode()  # a line swapped with itself ...
        seen[target] += 1
        seen[command[0]] += 1
    assert unchanged < 20
    assert all(seen[f] > 0 for f in SNAPSHOT_FILES + ("flows.json", "policy.yaml"))
    assert all(seen[c] > 0 for c in ("snapshot", "check", "audit", "policy"))
