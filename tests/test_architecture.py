"""The rules of the house (../shared/ARCHITECTURE.md, issue 17), checked on the source itself.

- No import cycle between nflens modules. Both module-level imports and imports inside functions
  count: a lazy import only hides a cycle from the interpreter, the two modules still cannot be
  understood, tested or moved apart. Imports under `if TYPE_CHECKING:` would not count for cycles
  (they never run), but they do count for layering; there are none today.
- Arrows point down: nothing in nflens/kernel imports analysis, symbolic, policy, report, cli,
  lab, snapshot or fleet (at any level, lazily or not).
- No function longer than 80 lines (def line to last line, nested functions included in their
  parent). Today's offenders are listed in LONG_FUNCTIONS with their length: the test fails
  when one grows, when a new one appears, and when a listed one got short enough to drop.
- One registry of dialects (nflens/dialect_registry, issue 28): no module outside it and the
  parsers (nflens/dialects) keeps a literal list, tuple, set or dict keyed by dialect names
  (`("iptables", "nft")`) or by their snapshot files (`("iptables-save.txt", "nft.json")`);
  they loop over the registry. The few literals that are not about the dialects (a file
  format's keys, a policy step's undo function) are listed in DIALECT_LISTS_ALLOWED with why.
- One seam runs processes: no module but nflens/proc.py imports `subprocess` (at any level) or
  starts a program through `os` (system, popen, exec*, spawn*, posix_spawn*, fork*) or asyncio's
  create_subprocess_*; everything else takes a `ProcessRunner`, so a `FakeRunner` sees every
  program nflens would run.

The import graph is read with `ast` (nothing is imported); an import names the most specific
nflens module it reaches (`from nflens.kernel import matches` -> nflens.kernel.matches), and
relative imports are resolved against the importing module's package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
KERNEL_MUST_NOT_IMPORT = ("analysis", "symbolic", "policy", "report", "cli", "lab", "snapshot",
                          "fleet")
MAX_LINES = 80
PROCESS_SEAM = "nflens/proc.py"
OS_STARTS = ("system", "popen", "exec", "spawn", "posix_spawn", "fork", "forkpty")
# (file relative to the repository, function's qualified name) -> its length today. May only
# shrink; remove an entry once it is under MAX_LINES.
LONG_FUNCTIONS: dict[tuple[str, str], int] = {}  # empty since render_hostgraph (100) was split



@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function
    type_only: bool  # under `if TYPE_CHECKING:`


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted((SRC / "nflens").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _known(name: str, modules) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [t for a in node.names if (t := _known(a.name, modules))]
    base = node.module or ""
    if node.level:
        package = module if is_pkg else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        target = full if full in modules else _known(base, modules)
        if target:
            out.append(target)
    return out


@cache
def import_edges() -> tuple[Edge, ...]:
    modules = _modules()
    edges = []

    def walk(node, module, is_pkg, lazy, type_only):
        for child in ast.iter_child_nodes(node):
            in_func = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            in_tc = type_only or (isinstance(child, ast.If)
                                  and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _targets(child, module, is_pkg, modules):
                    if target != module:
                        edges.append(Edge(module, target, child.lineno, in_func, in_tc))
            walk(child, module, is_pkg, in_func, in_tc)

    for module, (path, is_pkg) in modules.items():
        walk(ast.parse(path.read_text(encoding="utf-8")), module, is_pkg, False, False)
    return tuple(edges)


def import_cycles(edges) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _describe(component: list[str], edges) -> str:
    inside = [e for e in edges if e.importer in component and e.imported in component]
    return "; ".join(f"{e.importer} -> {e.imported} (line {e.line}{', lazy' if e.lazy else ''})"
                     for e in inside)


def _runtime_cycles() -> list[list[str]]:
    edges = [e for e in import_edges() if not e.type_only]
    return import_cycles(edges)


def test_the_import_walker_sees_lazy_and_relative_imports():
    edges = {(e.importer, e.imported): e for e in import_edges()}
    lazy = edges[("nflens.cli.check", "nflens.kernel.whatif")]  # imported inside trace()
    assert lazy.lazy
    assert not edges[("nflens.dialects.nft", "nflens.dialects.nft.generate")].lazy
    assert import_cycles([Edge("a", "b", 1, True, False), Edge("b", "c", 1, False, False),
                          Edge("c", "a", 1, False, False), Edge("c", "d", 1, False, False)]) \
        == [["a", "b", "c"]]


def test_no_import_cycle_between_nflens_modules():
    edges = import_edges()
    cycles = _runtime_cycles()
    assert not cycles, "\n".join(_describe(c, edges) for c in cycles)


def _kernel_upward() -> list[Edge]:
    return [e for e in import_edges() if e.importer.startswith("nflens.kernel")
            and e.imported.split(".")[1] in KERNEL_MUST_NOT_IMPORT]


def test_kernel_imports_no_layer_above_it_even_lazily():
    bad = _kernel_upward()
    assert not bad, "\n".join(f"{e.importer}:{e.line} imports {e.imported}" for e in bad)


def _functions(path: Path):
    """(qualified name, length in lines) of every function in `path`."""
    out = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out.append((name, child.end_lineno - child.lineno + 1))
                walk(child, f"{name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(path.read_text(encoding="utf-8")), "")
    return out


def test_no_function_over_80_lines():
    found = {}
    for top in ("src", "tests", "bench"):
        for path in sorted((REPO / top).rglob("*.py")):
            for name, length in _functions(path):
                if length > MAX_LINES or (str(path.relative_to(REPO)), name) in LONG_FUNCTIONS:
                    found[(str(path.relative_to(REPO)), name)] = length
    problems = []
    for key, length in sorted(found.items()):
        allowed = LONG_FUNCTIONS.get(key)
        if allowed is None:
            problems.append(f"{key[0]}::{key[1]} is {length} lines (max {MAX_LINES})")
        elif length > allowed:
            problems.append(f"{key[0]}::{key[1]} grew to {length} lines (listed at {allowed})")
        elif length <= MAX_LINES:
            problems.append(f"{key[0]}::{key[1]} is {length} lines now: drop it from the list")
    problems += [f"{f}::{n} is listed but gone" for f, n in LONG_FUNCTIONS if (f, n) not in found]
    assert not problems, "\n".join(problems)


def _starts_a_process(node: ast.AST) -> str | None:
    """What `node` does to start a program outside the seam, or None."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return next((f"imports {n}" for n in names if n.split(".")[0] == "subprocess"), None)
    if isinstance(node, ast.ImportFrom) and not node.level:
        module = node.module or ""
        if module.split(".")[0] == "subprocess":
            return f"imports from {module}"
        names = [a.name for a in node.names]
        if module == "os" and (bad := [n for n in names if n.startswith(OS_STARTS)]):
            return f"imports os.{bad[0]}"
        if module == "asyncio" and (bad := [n for n in names if "subprocess" in n]):
            return f"imports asyncio.{bad[0]}"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "os" and node.attr.startswith(OS_STARTS):
            return f"calls os.{node.attr}"
        if node.value.id == "asyncio" and "subprocess" in node.attr:
            return f"calls asyncio.{node.attr}"
    return None


def process_starts_outside_the_seam() -> list[str]:
    out = []
    for path in sorted((SRC / "nflens").rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where == PROCESS_SEAM:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (what := _starts_a_process(node)) is not None:
                out.append(f"{where}:{getattr(node, 'lineno', '?')} {what}")
    return out


def test_the_process_check_sees_every_way_in():
    seen = [_starts_a_process(ast.parse(text).body[0].value if text.startswith("os.")
                              else ast.parse(text).body[0])
            for text in ("import subprocess", "import subprocess as sp",
                         "from subprocess import run", "from os import execvp",
                         "from asyncio import create_subprocess_exec", "os.system")]
    assert None not in seen
    assert _starts_a_process(ast.parse("from os import kill, getpid").body[0]) is None
    assert _starts_a_process(ast.parse("from .subprocess import x").body[0]) is None


def test_only_the_process_seam_starts_processes():
    found = process_starts_outside_the_seam()
    assert not found, ("run programs through nflens.proc (a ProcessRunner), not directly:\n"
                       + "\n".join(found))


# (module, the names its literal holds) -> why it is not a list of the dialects to keep in step
DIALECT_LISTS_ALLOWED: dict[tuple[str, frozenset[str]], str] = {
    ("policy/settle.py", frozenset({"iptables", "ip6tables", "nft", "ebtables"})):
        "UNDO: how `policy rollback` undoes each step it makes (the policy's logic)",
    ("lab/decisions.py", frozenset({"iptables", "nft"})):
        "expected.json's `rules` keys: a scenario's rules per language (a file format)",
    ("analysis/fixes.py", frozenset({"iptables", "ebtables"})):
        "origin prefixes of the tables a fix may edit (placement rewrites analysis/fixes)",
    ("analysis/findings/no_firewall.py",
     frozenset({"iptables-save.txt", "nft.json", "nft.txt"})):
        "the files that show IPv4 filtering (placement rewrites the findings)",
    ("analysis/findings/no_firewall.py",
     frozenset({"ip6tables-save.txt", "nft.json", "nft.txt"})):
        "the files that show IPv6 filtering (placement rewrites the findings)",
    ("analysis/placement/iptables_docker_user.py", frozenset({"iptables", "ebtables"})):
        "origin prefixes of the tables the xtables placement may edit",
    ("lab/fuzz/runner.py", frozenset({"iptables-save.txt", "ip6tables-save.txt"})):
        "the two dumps whose tool prints the 'incompatible' stub or exits 3 (iptables-save's "
        "own behaviour, not a dialect loop)",
}


def _dialect_words() -> frozenset[str]:
    from nflens import dialect_registry

    return frozenset([d.name for d in dialect_registry.dialects()]
                     + list(dialect_registry.reader_names())
                     + list(dialect_registry.snapshot_files()))


def dialect_lists(tree: ast.AST, words: frozenset[str]) -> list[tuple[int, frozenset[str]]]:
    """(line, names) of each literal collection whose strings are all dialect names or
    snapshot files, two at least (a dict by its keys)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = node.elts
        elif isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        else:
            continue
        strings = [e.value for e in elts if isinstance(e, ast.Constant)
                   and isinstance(e.value, str)]
        if len(strings) >= 2 and set(strings) <= words:
            out.append((node.lineno, frozenset(strings)))
    return out


def test_the_dialect_list_check_sees_tuples_and_dict_keys():
    words = frozenset({"iptables", "nft", "nft.json"})
    seen = [names for text in ('X = ("iptables", "nft")', 'X = {"iptables": 1, "nft.json": 2}',
                               'f(["nft", "iptables"])')
            for _line, names in dialect_lists(ast.parse(text), words)]
    assert len(seen) == 3
    assert dialect_lists(ast.parse('X = ("iptables", "INPUT")'), words) == []


def test_no_module_keeps_its_own_list_of_dialects():
    words = _dialect_words()
    found = []
    for path in sorted((SRC / "nflens").rglob("*.py")):
        where = path.relative_to(SRC / "nflens").as_posix()
        if where.startswith(("dialect_registry/", "dialects/")):
            continue
        for line, names in dialect_lists(ast.parse(path.read_text(encoding="utf-8")), words):
            if (where, names) not in DIALECT_LISTS_ALLOWED:
                found.append(f"nflens/{where}:{line} lists {sorted(names)}")
    assert not found, ("loop over nflens.dialect_registry instead of a list of dialects:\n"
                       + "\n".join(found))


# --- registration: one module and its registration per dialect, placement ----------------------
REGISTRIES = {
    # package: (what each module must declare, the registry that must hold every module)
    "analysis/placement": (("NAME", "RANK", "owns", "realize"),
                           "nflens.analysis.placement", "PLACEMENTS"),
    "dialect_registry": (("DIALECT",), "nflens.dialect_registry", "MODULES"),
}


def unregistered(package: str, names: set[str], declared: dict[str, set[str]],
                 needs: tuple[str, ...]) -> list[str]:
    """The modules of `package` the registry does not hold, or that lack a declaration
    (`declared`: module -> its top-level names, read with ast)."""
    out = []
    for module, defined in sorted(declared.items()):
        if module not in names:
            out.append(f"nflens/{package}/{module}.py is not registered")
        missing = [n for n in needs if n not in defined]
        if missing:
            out.append(f"nflens/{package}/{module}.py lacks {', '.join(missing)}")
    return out


def _top_level(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_the_registration_check_sees_a_module_left_out():
    declared = {"nft": {"NAME", "RANK", "owns", "realize"}, "newone": {"NAME", "owns"}}
    found = unregistered("analysis/placement", {"nft"}, declared,
                         REGISTRIES["analysis/placement"][0])
    assert found == ["nflens/analysis/placement/newone.py is not registered",
                     "nflens/analysis/placement/newone.py lacks RANK, realize"]


@pytest.mark.parametrize("package", sorted(REGISTRIES))
def test_every_dialect_and_placement_module_is_registered(package):
    """A newcomer adds a dialect or a placement as one module and its registration (README,
    Layout): a module the registry does not hold is dead code nobody asks."""
    import importlib

    needs, registry, attr = REGISTRIES[package]
    held = getattr(importlib.import_module(registry), attr)
    names = {m if isinstance(m, str) else m.__name__.rsplit(".", 1)[1] for m in held}
    base = SRC / "nflens" / package
    declared = {p.stem: _top_level(p) for p in base.glob("*.py")
                if not p.stem.startswith("_") and p.stem != "base"}
    assert unregistered(package, names, declared, needs) == []
