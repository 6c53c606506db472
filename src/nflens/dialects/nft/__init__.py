"""The nftables dialect: libnftables JSON and nft text <-> IR (origin "nft").

    parse_json(text, file="<input>") -> Ruleset   `nft -j list ruleset`
    parse_text(text, file="<input>") -> Ruleset   `nft list ruleset`, loaded by the real nft
                                                  in a throwaway network namespace
    generate_json(ruleset) -> str                 input for `nft -j -f`
    generate_text(ruleset) -> str                 input for `nft -f` (no `flush ruleset`)

Matches become NftCmp(op, left, right) over NftExpr trees (see exprs.py for the mapping);
statements become the Actions the simulator reads (statements.py). Their concrete semantics
live in nflens.kernel.matches.nft_* and _nft_common.
"""

from __future__ import annotations

from nflens.dialects.nft.generate import generate_json, generate_text
from nflens.dialects.nft.jsonparse import parse_json
from nflens.dialects.nft.textparse import parse_text

NAME = "nft"


class Nft:
    """The dialect as one object (sqlglot style): a name, parsers and generators."""

    name = NAME
    parse_json = staticmethod(parse_json)
    parse_text = staticmethod(parse_text)
    generate_json = staticmethod(generate_json)
    generate_text = staticmethod(generate_text)


__all__ = ["NAME", "Nft", "generate_json", "generate_text", "parse_json", "parse_text"]
