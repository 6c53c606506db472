"""A host banning many addresses with one ipset (CrowdSec's crowdsec-blacklists, fail2ban's
hash:ip sets): audit's exposure is exact over the set — every banned address left out of the
reachable sources, its neighbours kept — and the range algebra under it is linear sweeps
(issue 25: 20,000 entries took more than 280 s; bench/ipset_bans.py measures the time)."""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
from pathlib import Path

from nflens.analysis.exposure import ExposureAnalysis
from nflens.kernel.region import subtract
from nflens.snapshot.read import read_snapshot

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fail2ban" / "crowdsec-input"


def ban_host(tmp: Path, entries: int, seed: int = 7) -> tuple[Path, list[int]]:
    """crowdsec-input with a default route via the WAN and `entries` banned addresses."""
    snap = tmp / "bans"
    shutil.copytree(FIXTURE, snap)
    routes = json.loads((snap / "ip-route.json").read_text())
    routes.insert(0, {"dst": "default", "gateway": "198.51.100.254", "dev": "eth1", "flags": []})
    (snap / "ip-route.json").write_text(json.dumps(routes))
    rng, banned = random.Random(seed), set()
    while len(banned) < entries:
        banned.add(rng.randrange(0x01000000, 0x7F000000))
    lines = ["create crowdsec-blacklists hash:ip family inet hashsize 1024 maxelem 150000 "
             "timeout 0"]
    lines += [f"add crowdsec-blacklists {ipaddress.IPv4Address(a)}" for a in sorted(banned)]
    (snap / "ipset-save.txt").write_text("\n".join(lines) + "\n")
    return snap, sorted(banned)


def _inside(ranges: list[tuple[int, int]], x: int) -> bool:
    return any(lo <= x <= hi for lo, hi in ranges)


def test_every_banned_address_and_only_those_are_left_out_on_the_wan(tmp_path):
    snap, banned = ban_host(tmp_path, 300)
    host = read_snapshot(snap)
    analysis = ExposureAnalysis(host)
    sock = next(s for s in host.sockets if s.port == 8000)  # *:8000, dual-stack
    wan = next(r for r in analysis.socket(sock).reach if r.iface == "eth1")
    allowed = wan.version_ranges[4]
    assert not any(_inside(allowed, b) for b in banned)
    assert all(_inside(allowed, b + 1) for b in banned if b + 1 not in banned)


def test_subtract_is_the_set_difference():
    rng = random.Random(3)
    for _ in range(200):
        a = [(x, x + rng.randrange(20)) for x in sorted(rng.sample(range(1000), 8))]
        b = [(x, x + rng.randrange(20)) for x in sorted(rng.sample(range(1000), 12))]
        want = {v for lo, hi in a for v in range(lo, hi + 1)} - \
            {v for lo, hi in b for v in range(lo, hi + 1)}
        got = {v for lo, hi in subtract(a, b) for v in range(lo, hi + 1)}
        assert got == want
