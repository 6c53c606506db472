"""The differential fuzzer: a short run in every `make test`, and its generators' contract.

The long run (≥5,000 cases) is a documented command (README, "Differential fuzzing"); here a
fixed seed keeps CI reproducible while still loading a few hundred random rulesets into the
kernel and opening real connections through them.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nflens.dialects.iptables.parser import parse as parse_iptables
from nflens.lab.fuzz.runner import draw_case, run_fuzz
from nflens.lab.netns import leftovers

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("nft", "iptables-restore", "conntrack", "nsenter")),
    reason="needs nft, iptables-restore, conntrack and nsenter")


def _namespaces(prefix: str) -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {w for w in (line.split()[0] for line in out.splitlines() if line.strip())
            if w.startswith(prefix)}


@pytest.mark.lab
@pytest.mark.timeout(600)
@needs_tools
def test_short_fuzz_run_agrees_with_the_kernel(tmp_path):
    report = run_fuzz(60, seed=20261122, save_dir=tmp_path)
    assert report.invalid == 0, report.notes
    assert report.disagreements == [], report.summary()
    assert report.cases == 60 and report.agreed + report.unknowable == report.flows == 60 * 8
    # flows rightly uncertain behind iptables-save's "incompatible" stub (gen_host's native
    # filter/nat tables): few, so that the rest stays compared exactly
    assert report.unknowable <= 8, report.unknowable_cases
    # a fuzzer whose flows all pass (or all fail) tests nothing
    outcomes = {k.rsplit(":", 1)[1] for k in report.verdicts}
    assert outcomes == {"allow", "deny"}
    assert report.lab_id and _namespaces(f"nfl-{report.lab_id}-") == set()  # all gone
    assert leftovers(report.lab_id) == []


def test_a_case_is_reproducible_from_seed_and_index():
    a, b = draw_case(7, 42), draw_case(7, 42)
    assert (a.iptables, a.nft, a.probes) == (b.iptables, b.nft, b.probes)
    assert draw_case(7, 43).iptables != a.iptables or draw_case(7, 43).nft != a.nft


def test_drawn_iptables_rules_stay_inside_the_modelled_grammar():
    """Every construct the generator draws is one the simulator models: nothing unsupported."""
    drawn = 0
    for index in range(300):
        case = draw_case(11, index)
        if case.iptables is None:
            continue
        ruleset = parse_iptables(case.iptables, f"case-{index}",
                                 family="ip" if case.version == 4 else "ip6")
        assert ruleset.unsupported == (), (index, ruleset.unsupported)
        drawn += 1
    assert drawn > 150


def _probe_repeatedly(world, case, name: str, times: int, first: int = 0) -> list[str]:
    """`times` probes of flow `name`, each from its own source port (from sport + `first`)."""
    from dataclasses import replace

    from nflens.lab.fuzz.sockets import probe_all

    spec = next(p for p in case.probes if p.name == name)
    specs = [replace(spec, sport=spec.sport + first + i) for i in range(times)]
    return [probe_all([s], world.ns, case.version)[spec.name] for s in specs]


def _drain_icmp_bucket(world, src: str, closed: tuple[str, int], count: int = 12) -> None:
    """`count` datagrams from B (bound to `src`) to a closed port of the router: as many
    port-unreachable errors to `src`, from the same per-destination bucket."""
    import socket

    from nflens.lab.fuzz.sockets import entered

    with entered(world.ns["b"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((src, 0))
        for _ in range(count):
            s.sendto(b"x", closed)
    finally:
        s.close()


@pytest.mark.lab
@pytest.mark.timeout(120)
@needs_tools
def test_the_fuzz_router_sends_its_icmp_errors_unlimited(tmp_path):
    """Fuzz case 20261207-2122: a FORWARD REJECT (icmp-host-prohibited) of B's handshake
    ACKs. The fuzz world exempts destination-unreachable from the ICMP rate limit, so every
    probe is refused as on a quiet host, which is what the simulator answers
    (kernel/icmplimit.py) — even after a burst of other errors to the same peer. With the
    kernel's default ratemask that burst empties the peer's bucket (6 errors), the ACK's
    error is suppressed and the connection stands: the long run's disagreement."""
    import time

    from nflens.lab.fuzz.runner import load, serving
    from nflens.lab.netns import Lab, run_in

    case = draw_case(20261207, 2122, 32)
    closed = ("10.2.0.1", 9999)
    with Lab() as lab, serving(lab, tmp_path) as world:
        load(world, case)
        _drain_icmp_bucket(world, "10.2.0.3", closed)
        time.sleep(0.05)
        assert _probe_repeatedly(world, case, "f29-ba-tcp", 3) == ["deny"] * 3
        run_in(world.ns["r"], ["sysctl", "-q", "-w", "net.ipv4.icmp_ratemask=6168"],
               runner=lab.runner)
        _drain_icmp_bucket(world, "10.2.0.3", closed)
        time.sleep(0.05)
        limited = _probe_repeatedly(world, case, "f29-ba-tcp", 1, first=100)
        counters = run_in(world.ns["r"], ["nstat", "-a", "-z", "IcmpOutRateLimitHost"],
                          runner=lab.runner).stdout
    assert limited == ["allow"], counters
