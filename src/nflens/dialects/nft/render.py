"""Render whole IR rules in nft(8) syntax: for `Source.text` and for `generate_text`.

Matches and values are spelled by render_expr.py, statements by render_stmt.py (nft(8),
"STATEMENTS"), so that the text loads back with `nft -f`. What cannot be spelled raises
`Unrenderable`; callers fall back to compact JSON (for Source.text) or refuse (for generate_text).
"""

from __future__ import annotations

import json
from typing import Any

from nflens.dialects.nft.exprs import to_json
from nflens.dialects.nft.render_expr import (
    Unrenderable,
    quote,
    render_cmp,
    render_expr,
    render_value,
)
from nflens.dialects.nft.render_stmt import render_action
from nflens.ir.rules import Action, NftCmp, NftExpr


def render_element(expr: Any, family: str, counters: tuple[int, int] | None = None) -> str:
    if isinstance(expr, NftCmp):
        return render_cmp(expr)
    if isinstance(expr, NftExpr):
        return render_expr(expr)
    if isinstance(expr, Action):
        return render_action(expr, family, counters)
    raise Unrenderable(f"element {expr!r}")


def render_rule(exprs: tuple, family: str, counters: tuple[int, int] | None = None,
                comment: str | None = None) -> str:
    """A whole rule; raises Unrenderable when one element cannot be spelled."""
    text = " ".join(render_element(e, family, counters) for e in exprs)
    if comment is not None:
        text += f" comment {quote(comment)}"
    return text


def rule_text(exprs: tuple, family: str, counters=None, comment=None, raw: Any = None) -> str:
    """nft syntax when possible, else the compact JSON of the rule (`raw`, or the IR's JSON)."""
    try:
        return render_rule(exprs, family, counters, comment)
    except (Unrenderable, TypeError, KeyError, AttributeError):
        if raw is not None:
            return json.dumps(raw, separators=(",", ":"))
        from nflens.dialects.nft.statements import ir_to_stmt

        try:
            return json.dumps([ir_to_stmt(e, family, counters) for e in exprs],
                              separators=(",", ":"))
        except (ValueError, TypeError):
            return repr(exprs)


__all__ = ["Unrenderable", "quote", "render_expr", "render_rule", "render_value", "rule_text",
           "to_json"]
