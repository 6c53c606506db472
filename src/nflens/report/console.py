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


def console(stderr: bool = False, wide_off_tty: bool = False) -> Console:
    """A Console that never interprets markup or emoji codes in strings. `wide_off_tty`: off a
    TTY, a wide fixed width keeps tables readable in logs and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    width = 140 if wide_off_tty and not stream.isatty() else None
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, width=width)
