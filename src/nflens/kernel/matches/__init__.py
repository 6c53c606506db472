"""Match extensions: one module each, registered by name.

Each module exposes `NAMES` (the names it handles: x_tables module names such as "tcp",
"conntrack"; nft key kinds such as "payload", "meta", "ct"; ebtables' "eb", "arp", ...) and
`evaluate(match, ctx) -> bool | Unknown`. Symbolic constraints (`constrain`) come with the
analysis layer. `REGISTRY` maps a name to its module; an unregistered name evaluates to Unknown.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

REGISTRY: dict[str, ModuleType] = {}


def _load() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "NAMES", ()):
            REGISTRY[name] = module


def module_for(name: str) -> ModuleType | None:
    if not REGISTRY:
        _load()
    return REGISTRY.get(name)
