"""The errors nflens raises, each with a message a user can act on.

    NflensError                      anything nflens reports to the user (CLI exit 2)
    ├── ParseError                   malformed input: carries file and line -> "FILE:LINE: message"
    ├── DialectError                 unknown dialect or a file of the wrong dialect
    │   └── Unrenderable             an IR element nft text has no spelling for (also a ValueError)
    ├── SnapshotError                a snapshot directory that cannot be read
    ├── FlowError                    a flows file or --from/--to that does not make sense
    ├── AmbiguousReference           a container/network reference Docker would refuse as ambiguous
    ├── ToolError                    an external tool (nft, iptables, dockerd) failed or is missing
    ├── PolicyError                  a policy that cannot be compiled or applied
    └── MatrixError                  a ruleset the service matrix cannot walk (also a ValueError)

Edges (collectors, subprocesses, the Docker API) translate their exceptions into these with
``raise ... from exc``; the CLI turns any NflensError into its message on stderr and exit code 2.
"""

from __future__ import annotations


class NflensError(Exception):
    """Base of every error nflens reports to the user."""

    exit_code = 2


class ParseError(NflensError):
    """Malformed input at a known place."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            return f"{where}:{self.line}: {self.message}"
        return f"{where}: {self.message}"


class DialectError(NflensError):
    """Unknown dialect name, or input that belongs to another dialect."""


class SnapshotError(NflensError):
    """A snapshot directory that cannot be read."""


class AmbiguousReference(NflensError):
    """A container or network reference that matches several (an ID prefix of two IDs, a
    network name two networks share): Docker refuses it, and so does nflens."""


class FlowError(NflensError):
    """A flow description that does not make sense."""


class ToolError(NflensError):
    """An external tool failed or is missing."""


class PolicyError(NflensError):
    """A policy that cannot be compiled, verified or applied."""


class Unrenderable(DialectError, ValueError):
    """An IR element has no spelling in nft text (dialects/nft/render*.py). Callers fall back to
    compact JSON (a rule's Source.text) or turn it into a DialectError that says which rule
    (generate_text). A ValueError too, as it always was, for callers that catch that."""


class MatrixError(NflensError, ValueError):
    """The service matrix (symbolic/matrix.py) cannot walk this ruleset: no such table or chain,
    jumps nested too deep. A ValueError too, as it always was."""
