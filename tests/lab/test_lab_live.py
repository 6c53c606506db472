"""`nflens audit --live` on a real kernel: run inside a throwaway network namespace (nsenter, as a
user runs it on the host), it answers exactly what `snapshot collect DIR` + `audit --snapshot
DIR` of the same namespace answer, and the exposure is the one the rules say."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, scratch_netns


def _in(ns: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", *argv],
                          capture_output=True, text=True, timeout=120, cwd=REPO, **kw)


def _nflens(ns: str, *args: str) -> subprocess.CompletedProcess:
    return _in(ns, sys.executable, "-m", "nflens", *args)


def _setup(ns: str) -> None:
    for argv in (["ip", "link", "set", "lo", "up"],
                 ["ip", "link", "add", "nfl0", "type", "veth", "peer", "name", "nfl1"],
                 ["ip", "addr", "add", "192.0.2.1/24", "dev", "nfl0"],
                 ["ip", "link", "set", "nfl0", "up"], ["ip", "link", "set", "nfl1", "up"],
                 ["iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
                 ["iptables", "-A", "INPUT", "-i", "nfl0", "-s", "192.0.2.0/25", "-p", "tcp",
                  "--dport", "2222", "-j", "ACCEPT"],
                 ["iptables", "-P", "INPUT", "DROP"]):
        _in(ns, *argv).check_returncode()


@pytest.mark.lab
def test_audit_live_in_a_namespace_equals_collect_then_audit(tmp_path):
    with scratch_netns("nflens-live", "nsenter", "iptables", "socat") as ns:
        _setup(ns)
        listener = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "--", "socat",
                                     "TCP-LISTEN:2222,reuseaddr,fork", "SYSTEM:true"])
        try:
            time.sleep(0.3)  # the socket is listening before either collection
            live = _nflens(ns, "audit", "--live", "--json", "--no-verify")
            snap = tmp_path / "snap"
            collected = _nflens(ns, "snapshot", "collect", str(snap))
            given = _nflens(ns, "audit", "--snapshot", str(snap), "--json", "--no-verify")
        finally:
            listener.kill()
            listener.wait(timeout=10)
    assert collected.returncode == 0, collected.stderr
    assert live.returncode == 0 and given.returncode == 0, live.stderr + given.stderr
    assert json.loads(live.stdout) == json.loads(given.stdout)
    ports = {(e["proto"], e["host_port"]): e for e in json.loads(live.stdout)["exposure"]}
    reach = {r["iface"]: r["sources"] for r in ports[("tcp", 2222)]["reachable_from"]}
    # the ACCEPT's source prefix, less the host's own address on it (192.0.2.1)
    assert reach["nfl0"] == ["192.0.2.0/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/29",
                             "192.0.2.16/28", "192.0.2.32/27", "192.0.2.64/26"], reach
