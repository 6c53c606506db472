"""Text from other people's files, made safe to show: the one escaping every output uses.

Names (containers, interfaces, processes, chains) and rule texts come from snapshots someone
else made. Shown as they are, an ESC sequence in a container name reaches the terminal (it can
recolour, move the cursor, retitle the window), a bidi override makes the rule the user reads
not the rule, and a line of a hostile file ends up whole in an error message. Here:

- `printable(text)` escapes every control character (C0, DEL, C1), format character (bidi
  overrides, zero-width joiners: Unicode category Cf) and line/paragraph separator as `\\xNN`,
  `\\uNNNN` — the text stays readable and what is odd in it is visible;
- `excerpt(text)` is what an error message may quote of an unparsable line: escaped, and cut
  to a few dozen characters.

Rich markup (`[bold]`) is the report layer's business (`nflens.report.console`): it builds on
`printable`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

EXCERPT = 48


def _escape(ch: str) -> str:
    code = ord(ch)
    if code == 0x09:
        return "\\t"
    if code == 0x0A:
        return "\\n"
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _odd(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") \
        and ch != "\ufffd"


def printable(text: object, keep_newlines: bool = False) -> str:
    """`text` with control and format characters escaped (see the module docstring).
    `keep_newlines` leaves `\\n` alone, for multi-line messages."""
    s = str(text)
    if s.isprintable() and not any(_odd(c) for c in s if ord(c) > 0x7E):
        return s
    return "".join(c if (keep_newlines and c == "\n") or not _odd(c) else _escape(c) for c in s)


def excerpt(text: object, limit: int = EXCERPT) -> str:
    """A short, escaped quote of an input line for an error message: `'first 48 chars…'`."""
    s = str(text).strip()
    cut = len(s) > limit
    shown = printable(s[:limit])
    return "'" + shown.replace("'", "\\'") + ("…'" if cut else "'")


NAME = 80
LONG_TOKEN = 256  # no word of a message is longer, unless a name was left uncut


def name(text: object, limit: int = NAME) -> str:
    """A name from someone else's file (chain, container, interface) inside a message: escaped
    (a newline in a container name is `\\n`, not a line break of the error) and cut to
    `limit` characters with an ellipsis (a 100,000-character chain name was echoed whole)."""
    s = str(text)
    return printable(s[:limit]) + ("…" if len(s) > limit else "")


def quoted(text: object, limit: int = NAME) -> str:
    """`name()` in single quotes, as `{x!r}` would quote a plain name."""
    return "'" + name(text, limit).replace("'", "\\'") + "'"


def names(items: Iterable[object], most: int = 20) -> str:
    """A list of names for a message: each cut, at most `most` of them, then `… +N more`."""
    items = list(items)
    shown = ", ".join(name(i) for i in items[:most])
    return shown + (f" … +{len(items) - most} more" if len(items) > most else "")


def bounded(message: str) -> str:
    """The last guard before a message is printed: every run of more than LONG_TOKEN
    non-space characters (a name some code path did not cut) is cut to NAME characters."""
    return _LONG.sub(lambda m: m.group(0)[:NAME] + f"…({len(m.group(0))} characters)", message)


_LONG = re.compile(rf"\S{{{LONG_TOKEN + 1},}}")
