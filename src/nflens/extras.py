"""Optional dependencies: the commands that need one say which extra to install.

The analysis commands (check, trace, audit, matrix, rules, snapshot, policy plan/apply) need only
the base dependencies. The Docker SDK and pyroute2 are extras (pyproject.toml):
`nflens[live]` for `policy watch` (Docker's event stream), `nflens[lab]` for the lab
(netlink, a dockerd driven through its API). Those commands call `require()` first, so a
missing package is one line naming the extra (exit 2), not an ImportError deep in a run.

Which packages an extra holds is read from the installed distribution's own metadata, the
`Requires-Dist: ...; extra == "lab"` lines pyproject.toml produced: no second list here.
"""

from __future__ import annotations

import re
from importlib import metadata

from nflens.errors import ToolError

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def packages(extra: str, requires: list[str] | None = None) -> list[str]:
    """The distributions extra `extra` of nflens requires (from its metadata)."""
    if requires is None:
        try:
            requires = metadata.requires("nflens") or []
        except metadata.PackageNotFoundError:  # run from a source tree that was never installed
            return []
    out = []
    for req in requires:
        spec, _, marker = req.partition(";")
        m = _NAME.match(spec)
        if m and extra in _EXTRA.findall(marker):
            out.append(m.group(1))
    return out


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def require(extra: str, what: str, requires: list[str] | None = None) -> None:
    """Raise ToolError naming `nflens[extra]` when one of its packages is not installed."""
    missing = [d for d in packages(extra, requires) if not _installed(d)]
    if missing:
        raise ToolError(f"{what} needs {', '.join(missing)}, which this installation of nflens "
                        f"lacks: install the extra, e.g. pip install 'nflens[{extra}]' "
                        f"(pipx install 'nflens[{extra}]', uv tool install 'nflens[{extra}]')")
