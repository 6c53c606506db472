"""The nftables dialect: libnftables JSON and nft text <-> IR (origin "nft").

    parse_json(text, file="<input>") -> Ruleset   `nft -j list ruleset`
    parse_text(text, file="<input>") -> Ruleset   `nft list ruleset`, loaded by the real nft
                                                  in a throwaway network namespace
    generate_json(ruleset) -> str                 input for `nft -j -f`
    generate_text(ruleset) -> str                 input for `nft -f` (no `flush ruleset`)

Matches become NftCmp(op, left, right) over NftExpr trees (see exprs.py for the mapping);
statements become the Actions the simulator reads (statements.py). Their concrete semantics
live in nflens.kernel.matches.nft_* and _nft_common. The dialect as one object (names,
detection, commands, snapshot files) is nflens.dialect_registry.nft.
"""

from __future__ import annotations

from nflens.dialects.nft.generate import generate_json, generate_text
from nflens.dialects.nft.jsonparse import parse_json
from nflens.dialects.nft.textparse import parse_text

NAME = "nft"


__all__ = ["NAME", "generate_json", "generate_text", "parse_json", "parse_text"]
