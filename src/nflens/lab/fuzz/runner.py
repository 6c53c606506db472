"""The fuzzing loop: draw, load into the kernel, dump, simulate, probe, compare, keep failures.

Every case is reproducible from (seed, index): the RNG is seeded with both. The simulator reads
the rules as the kernel dumps them after loading (iptables-save, nft -j list ruleset), not the
generated text, so the parse of real dumps is under test too. A disagreement is written as a
fixture directory — a full snapshot plus flows.json and the kernel's outcomes in expected.json,
the same layout as the lab's fixtures — which tests/kernel/test_fuzz_regressions.py replays
forever after.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nflens import dialect_registry
from nflens.errors import NflensError, ToolError
from nflens.flows import flow_from_dict
from nflens.kernel.simulate import Simulator
from nflens.lab.fuzz import flows as flowgen
from nflens.lab.fuzz import gen_host, gen_ipset, gen_iptables, gen_nft, gen_routing
from nflens.lab.fuzz.sockets import Servers, probe_all
from nflens.lab.fuzz.world import (
    DEVICE,
    DEVICE_PORT,
    OWNED_PORT,
    OWNER_UID,
    TPROXY_PORT,
    World,
    addresses,
    build,
    collect_static,
    listening_ports,
)
from nflens.lab.netns import Lab, nsenter, run_in
from nflens.proc import ProcessRunner
from nflens.snapshot.collect import MISSING_FILE, failure_reason
from nflens.snapshot.read import read_snapshot


@dataclass
class Case:
    """One drawn case: the rules to load and the flows to send."""

    seed: int
    index: int
    version: int
    iptables: str | None
    nft: str | None
    probes: list[flowgen.ProbeSpec]
    ipsets: str | None = None  # `ipset restore` input, loaded before the iptables rules
    routing: list[list[str]] = field(default_factory=list)  # commands in R (gen_routing)
    peer: list[list[str]] = field(default_factory=list)  # commands in B (gen_host)

    @property
    def id(self) -> str:
        return f"{self.seed}-{self.index}"


@dataclass
class FuzzReport:
    seed: int
    cases: int = 0
    flows: int = 0
    agreed: int = 0
    invalid: int = 0  # drawn rulesets the kernel refused (a generator bug, listed in `notes`)
    # flows nflens rightly answered `uncertain`: iptables-save could not print a table that
    # native nft chains share with iptables-nft, and nft.json shows its xt rules without their
    # arguments (the case ids in `unknowable_cases`)
    unknowable: int = 0
    unknowable_cases: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)  # fixture directories written
    verdicts: Counter = field(default_factory=Counter)  # kernel outcomes seen, by kind
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lab_id: str = ""  # the namespaces were nfl-<lab_id>-a/-r/-b

    @property
    def ok(self) -> bool:
        return not self.disagreements and self.cases > 0 and self.invalid == 0

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.verdicts.items()))
        return (f"fuzz seed {self.seed}: {self.cases} cases, {self.flows} flows, "
                f"{self.agreed} agree, {len(self.disagreements)} cases disagree, "
                f"{self.invalid} invalid, {self.unknowable} unknowable from the snapshot, "
                f"{self.seconds:.0f} s ({kinds})")


def draw_case(seed: int, index: int, flows_per_case: int = 8) -> Case:
    rng = random.Random(f"nflens-fuzz:{seed}:{index}")
    version = 4 if rng.random() < 0.7 else 6
    mode = rng.random()
    ipt = gen_iptables.ruleset(rng, version) if mode < 0.75 else None
    nft = gen_nft.ruleset(rng, version) if mode > 0.45 else None
    probes = flowgen.draw(rng, version, flows_per_case, index)
    sets = None
    if ipt is not None:  # the ipsets' own stream: the draws above stay what they were
        set_rng = random.Random(f"nflens-fuzz-ipset:{seed}:{index}")
        if set_rng.random() < 0.5:
            sets = gen_ipset.ipsets(set_rng, version)
            ipt = gen_ipset.weave(set_rng, ipt)
    # issue 24's host dimensions, each from its own stream (gen_host)
    nft = gen_host.native_tables(seed, index, nft)
    ipt = gen_host.owner_rules(seed, index, version, ipt)
    ipt, tproxy_routing = gen_host.tproxy(seed, index, version, ipt)
    probes = gen_host.listener_flows(seed, index, probes)
    subnet, peer = gen_host.second_subnet(seed, index, version)
    # the second subnet's route first: its gateway is checked by a lookup through the policy
    # rules (fib_check_nh_v4_gw -> fib_lookup), which a drawn `not ipproto tcp blackhole`
    # refuses ("Nexthop has invalid gateway"); the state loaded is the same in any order
    routing = subnet + gen_routing.draw(seed, index, version) \
        + gen_host.uid_rules(seed, index, version) + tproxy_routing
    probes, routing = gen_host.behind_bridge(gen_host.plain_bridge(seed, index, version),
                                             probes, routing)
    return Case(seed, index, version, ipt, nft, probes, sets, routing, peer)


def _feed(runner: ProcessRunner, ns: str, argv: list[str], text: str) -> None:
    """`text` on the stdin of `argv` in `ns`. The kernel refusing it is a ToolError (the case is
    invalid); a tool that could not run or did not finish says nothing about the drawn rules
    and stops the run (NflensError)."""
    proc = runner.run(nsenter(ns, argv), stdin=text, timeout=30)
    if proc.error is not None:
        raise NflensError(f"{' '.join(argv)} in {ns}: {proc.error}")
    if not proc.ok:
        raise ToolError(f"{' '.join(argv)}: {proc.stderr.strip()[:400]}")


def load(world: World, case: Case) -> None:
    """Replace the router's whole ruleset with the case's (nft flush covers iptables-nft)."""
    r, runner = world.ns["r"], world.lab.runner
    if world.routed:  # the previous case's policy routing
        for argv in gen_routing.UNDO + gen_host.UNDO:
            run_in(r, argv, check=False, runner=runner)  # a table never made cannot be flushed
    if world.peered:
        for argv in gen_host.PEER_UNDO:
            run_in(world.ns["b"], argv, check=False, runner=runner)
    world.routed, world.peered = bool(case.routing), bool(case.peer)
    for role, commands in (("b", case.peer), ("r", case.routing)):
        for argv in commands:
            proc = runner.run(nsenter(world.ns[role], argv), timeout=30)
            if not proc.ok:
                raise ToolError(f"{' '.join(argv)}: {proc.stderr.strip()[:400]}")
    run_in(r, ["nft", "flush", "ruleset"], runner=runner)
    _destroy_ipsets(runner, r)
    if case.ipsets:
        _feed(runner, r, ["ipset", "restore"], case.ipsets)
    if case.iptables:
        _feed(runner, r, ["iptables-restore" if case.version == 4 else "ip6tables-restore"],
              case.iptables)
    if case.nft:
        _feed(runner, r, ["nft", "-f", "-"], case.nft)
    run_in(r, ["conntrack", "-F", "-f", "ipv4" if case.version == 4 else "ipv6"], check=False,
           runner=runner)


def _destroy_ipsets(runner: ProcessRunner, ns: str) -> None:
    """Every ipset of the previous case: flushed first, since a list:set holds a reference on
    each member and `ipset destroy` refuses a referenced set (the rules referencing them are
    gone with `nft flush ruleset`)."""
    run_in(ns, ["ipset", "flush"], runner=runner)
    run_in(ns, ["ipset", "destroy"], runner=runner)


def dump(world: World, dest: Path, routed: bool = False) -> None:
    """The snapshot of this case: the static files and the rules as the kernel holds them
    (`routed`: the policy rules, routes and sysctls too, which the case changed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in world.static.iterdir():
        shutil.copy2(f, dest / f.name)
    r = world.ns["r"]
    missing = []
    for name, argv in dialect_registry.collected(FUZZED_FAMILIES) + (
            ("ipset-save.txt", ["ipset", "save"]),) + (ROUTING_FILES if routed else ()):
        proc = run_in(r, argv, check=False, runner=world.lab.runner)
        if proc.returncode == 0:
            (dest / name).write_text(proc.stdout)
        else:  # as collect() records it: iptables-save exits 3 on a rule it cannot print
            missing.append(f"{name}: `{' '.join(argv)}` failed: "
                           f"{failure_reason(proc.returncode, proc.stderr)}\n")
    if missing:
        with (dest / MISSING_FILE).open("a", encoding="utf-8") as out:
            out.write("".join(missing))


# the families the generated rules are in: their dialects' dumps are taken (iptables,
# ip6tables, nft; not ebtables, whose tables the fuzz never fills)
FUZZED_FAMILIES = ("ip", "ip6")
ROUTING_FILES = (("ip-link.json", ["ip", "-j", "-d", "link", "show"]),  # a plain bridge's ports
                 ("ip-addr.json", ["ip", "-j", "addr", "show"]),
                 ("ip-rule.json", ["ip", "-j", "rule", "show"]),
                 ("ip-route.json", ["ip", "-j", "route", "show", "table", "all"]),
                 ("sysctl.txt", ["sysctl", "-a"]))


def simulate(snapshot: Path, case: Case) -> tuple[dict[str, str], set[str]]:
    """The simulator's verdicts, and the flows it answered `uncertain` only because the
    snapshot cannot show an iptables-nft rule (see `_hidden_rules`)."""
    sim = Simulator(read_snapshot(snapshot))
    hidden = _hidden_rules(snapshot)
    out, unknowable = {}, set()
    for spec in case.probes:
        flow = flow_from_dict(spec.flow_json(), f"{snapshot}/flows.json")
        result = sim.run(flow)
        out[spec.name] = result.verdict
        if hidden and result.verdict == "uncertain" and _only_hidden(result.uncertain_because):
            unknowable.add(spec.name)
    return out, unknowable


# the simulator's reason for an xt expression of nft.json, whose arguments nft -j omits
_XT_HIDDEN = re.compile(r"(\bxt name=\S+ type=\w+|\(opaque xt\) '[^']+') is not modelled "
                        r"\[nft\.json:\d+\]")


def _only_hidden(reasons: list[str]) -> bool:
    """Every reason is an xt rule nft.json hides, or the search limit those many unknowns
    hit (there is at least one of the first)."""
    hidden = [bool(_XT_HIDDEN.search(why)) for why in reasons]
    return any(hidden) and all(h or why.startswith("the search stopped after")
                               for h, why in zip(hidden, reasons))


def _hidden_rules(snapshot: Path) -> bool:
    """iptables-save could not print a table: it failed (exit 3: a native rule it cannot
    print) or printed the "incompatible" stub in its place, as on a real host."""
    for name in ("iptables-save.txt", "ip6tables-save.txt"):
        path = snapshot / name
        if not path.exists() or "incompatible" in path.read_text(encoding="utf-8"):
            return True
    return False


def save_fixture(dest: Path, snapshot: Path, case: Case, kernel: dict[str, str],
                 simulated: dict[str, str]) -> None:
    """A regression fixture: the snapshot, the flows, the kernel's outcomes, the drawn rules."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest)
    (dest / "flows.json").write_text(json.dumps(
        {"flows": [p.flow_json() for p in case.probes]}, indent=1) + "\n")
    (dest / "expected.json").write_text(json.dumps(
        {"expected": kernel, "flaky": [],
         "setup": f"nflens lab fuzz --seed {case.seed} --start {case.index} --cases 1",
         "simulator_said": {k: v for k, v in simulated.items() if v != kernel.get(k)}},
        indent=1) + "\n")
    drawn = "".join(f"# ---- {what}\n{text}" for what, text in
                    (("ipset", case.ipsets), ("iptables", case.iptables), ("nft", case.nft),
                     ("routing", "".join(" ".join(a) + "\n" for a in case.routing)),
                     ("in B", "".join(" ".join(a) + "\n" for a in case.peer))) if text)
    (dest / "drawn-rules.txt").write_text(drawn)


@contextlib.contextmanager
def serving(lab: Lab, tmp: Path,
            setup: Callable[[World], None] | None = None) -> Iterator[World]:
    """The world built in `lab`, its listeners up and its static snapshot files collected under
    `tmp`; the listeners closed on the way out (the lab removes the namespaces). `setup` adds
    to the world before the snapshot is taken (policy rules, more listeners)."""
    static = tmp / "static"
    static.mkdir()
    world = build(lab, static)
    if setup is not None:
        setup(world)
    servers = Servers({world.ns[role]: (addresses(role, 4) + addresses(role, 6),
                                        listening_ports(role)) for role in ("a", "b", "r")},
                      {world.ns["r"]: [(DEVICE_PORT, DEVICE, 0), (OWNED_PORT, None, OWNER_UID)]},
                      {world.ns["r"]: (TPROXY_PORT,)})
    try:
        collect_static(world)
        yield world
    finally:
        servers.close()


def run_fuzz(cases: int, seed: int, save_dir: Path, start: int = 0, flows_per_case: int = 8,
             deadline: float = 0.4, progress: Callable[[int, FuzzReport], None] | None = None,
             record: bool = False) -> FuzzReport:
    """Run `cases` cases from index `start`; needs root, nft, iptables-nft and conntrack.
    `record`: save every case as a fixture, agreeing or not (to turn a case whose bug is
    fixed into a regression test)."""
    report = FuzzReport(seed)
    began = time.monotonic()
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="nflens-fuzz-") as tmp:
        report.lab_id = lab.id
        with serving(lab, Path(tmp)) as world:
            for index in range(start, start + cases):
                case = draw_case(seed, index, flows_per_case)
                _one(world, case, Path(tmp) / "case", save_dir, report, deadline, record)
                if progress:
                    progress(index - start + 1, report)
    report.seconds = time.monotonic() - began
    return report


def _one(world: World, case: Case, snap: Path, save_dir: Path, report: FuzzReport,
         deadline: float, record: bool) -> None:
    try:
        load(world, case)
    except ToolError as exc:
        report.invalid += 1
        report.notes.append(f"case {case.id}: the kernel refused the drawn rules: {exc}")
        return
    if snap.exists():
        shutil.rmtree(snap)
    dump(world, snap, bool(case.routing))
    unknowable: set[str] = set()
    try:
        simulated, unknowable = simulate(snap, case)
    except NflensError as exc:
        simulated = {p.name: f"error: {exc}" for p in case.probes}
    kernel = probe_all(case.probes, world.ns, case.version, deadline)
    report.cases += 1
    report.flows += len(case.probes)
    wrong = [name for name in kernel
             if simulated.get(name) != kernel[name] and name not in unknowable]
    hidden = [name for name in kernel if simulated.get(name) != kernel[name]
              and name in unknowable]
    if hidden:
        report.unknowable += len(hidden)
        report.unknowable_cases.append(case.id)
    for spec in case.probes:
        report.verdicts[f"{spec.name.split('-', 1)[1]}:{kernel[spec.name]}"] += 1
    report.agreed += len(kernel) - len(wrong) - len(hidden)
    if wrong or record:
        dest = save_dir / f"case-{case.id}"
        save_fixture(dest, snap, case, kernel, simulated)
        if wrong:
            report.disagreements.append(str(dest))


__all__ = ["Case", "FuzzReport", "draw_case", "run_fuzz", "serving"]
