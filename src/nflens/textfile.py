"""Read a file the user named (flows, policy, --ipassmt, a dump) as UTF-8 text.

`Path.read_text()` raised UnicodeDecodeError — a traceback — for a flows, policy or --ipassmt
file that is not UTF-8 (issue 16.10). Here it is a ParseError at the line of the first bad byte,
and a file that cannot be read is a ParseError naming it.
"""

from __future__ import annotations

from pathlib import Path

from nflens.errors import ParseError


def decode(raw: bytes, file: str) -> str:
    """`raw` as UTF-8, or ParseError(file, line of the first byte that is not)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", file, line) from None


def read_text(path: str | Path, what: str = "cannot read") -> str:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ParseError(f"{what}: {exc.strerror or exc}", str(p)) from None
    return decode(raw, str(p))
