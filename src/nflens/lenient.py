"""One path for every lenient decision: a construct kept unsupported, a default the input did not
state. Nothing defaults silently (ARCHITECTURE.md, "Learned in the first round").

Modelled on sqlglot's `Generator.unsupported(message)` with its `ErrorLevel`: a reader collects
what it could not honour, and the level decides what happens to it:

    IGNORE      say nothing (round-trip tests that only count rules)
    WARN        keep the construct or take the default, and name it (the default level):
                the message reaches the user with FILE:LINE (Ruleset.warnings / .unsupported)
    RAISE       collect them all, then refuse at `check()` with every message
    IMMEDIATE   refuse at the first one

This is the reading side. At evaluation time the same rule is `kernel.context.Unknown`: a match
or a host fact the model cannot decide is an Unknown that names it, and the simulator explores
both outcomes and answers `uncertain` where it matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from nflens.errors import ParseError

T = TypeVar("T")


class ErrorLevel(Enum):
    IGNORE = "ignore"
    WARN = "warn"
    RAISE = "raise"
    IMMEDIATE = "immediate"


@dataclass
class Lenience:
    """What one reader of one file did not honour, as (file, line, message)."""

    file: str
    level: ErrorLevel = ErrorLevel.WARN
    messages: list[tuple[str, int, str]] = field(default_factory=list)

    def unsupported(self, message: str, line: int) -> None:
        """Name something kept without being honoured (sqlglot: Generator.unsupported)."""
        if self.level is ErrorLevel.IGNORE:
            return
        if self.level is ErrorLevel.IMMEDIATE:
            raise ParseError(message, self.file, line)
        self.messages.append((self.file, line, message))

    def assume(self, what: str, value: T, line: int, why: str = "") -> T:
        """A default the input did not state: returned, and named as an assumption."""
        self.unsupported(f"assumed {what} {value}{f' ({why})' if why else ''}", line)
        return value

    def check(self) -> None:
        """At the end of a file: RAISE refuses with every message collected."""
        if self.level is ErrorLevel.RAISE and self.messages:
            first = self.messages[0]
            text = "; ".join(m for _, _, m in self.messages)
            raise ParseError(text, first[0], first[1])
