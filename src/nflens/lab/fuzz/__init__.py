"""Differential fuzzing: random rulesets on a real router namespace vs the simulator.

No Docker here: a router namespace between two client namespaces (world.py) gets a random
iptables / ip6tables / native nft ruleset drawn from the grammar the simulator supports
(gen_iptables.py, gen_nft.py); random TCP/UDP flows (flows.py) are opened for real from the
clients and from the router itself (sockets.py); the snapshot is collected from the kernel after
loading, so the simulator reads exactly what the kernel holds (the rule dumps, not the generated
text). Any disagreement is written as a self-contained regression fixture (runner.py), replayed
by tests/kernel/test_fuzz_regressions.py.
"""

from nflens.lab.fuzz.runner import FuzzReport, run_fuzz

__all__ = ["FuzzReport", "run_fuzz"]
