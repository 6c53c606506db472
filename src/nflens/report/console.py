"""Rich output that shows other people's text literally: the helper every renderer uses.

rich reads `[...]` in a printed string as markup: a container named `[/]shop` crashed
`snapshot show` with MarkupError, and a rule comment `[k8s] allow [bold]web` was displayed as
` allow web` — the rule the user read was not the rule (issue 16). `:name:` becomes an emoji the
same way. So nflens' consoles are made with markup and emoji *off*: a plain string is printed as
it is, style comes only from `Text` objects the renderer builds, and every name or rule text
goes through `literal()` (control characters escaped by `nflens.literal.printable`, so ESC
sequences never reach the terminal raw).
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from nflens.literal import printable


def literal(value: Any, style: str = "", lines: bool = False) -> Text:
    """`value` as text to show exactly: no markup, control characters escaped (`lines`: but
    newlines kept, for multi-line explanations)."""
    return Text("" if value is None else printable(value, keep_newlines=lines), style=style)


def join(*parts: Any) -> Text:
    """Text pieces and plain values (shown literally) as one Text."""
    out = Text()
    for part in parts:
        out.append_text(part if isinstance(part, Text) else literal(part))
    return out


# Off a TTY, nothing is cut: rich's default there is 80 columns, so tables truncated chain names
# (`DOCKER-ISOLATIO…`) and long lines (a rule, a fix) were broken mid-word, which `grep` then
# could not find (issue 29.6). A pipe or a file gets lines as long as their content instead.
UNCUT = 1 << 20
RULE_WIDTH = 80  # a horizontal rule (`console.rule`) still spans a screen, not UNCUT columns


class _Uncut(Console):
    """A Console off a TTY: never wraps, never truncates; rules keep a screen's width."""

    def rule(self, *args: Any, **kwargs: Any) -> None:
        from rich.rule import Rule

        self.print(Rule(*args, **kwargs), width=RULE_WIDTH)


def console(stderr: bool = False, wide_off_tty: bool = False) -> Console:
    """A Console that never interprets markup or emoji codes in strings; on a TTY as wide as
    the terminal, off a TTY (a pipe, a file, a CI log) uncut: every line whole. `wide_off_tty`
    is kept for callers that asked for width off a TTY; every console has it now."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    return _Uncut(stderr=stderr, markup=False, emoji=False, highlight=False, width=UNCUT,
                  soft_wrap=True)
