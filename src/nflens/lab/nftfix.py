"""Apply what `nflens audit` printed as an nft fix, as the admin would: `sh -e fix.sh` as root.

Why: issue 28 wants every finding on a native-nftables host to carry a verified nft fix, and
the lab to prove it holds. So nothing here knows any rule: it takes the fix text exactly as
`audit --json` printed it and runs it, in the lab host's network namespace (and its private
mount namespace, so a fix that edits /etc/nftables.conf edits the host's copy, never the
machine's file).

The text's contract (the placement's): a POSIX shell snippet of `#` comment lines and commands,
its nft part one here-document, `nft -f - <<'EOF'` ... `EOF`. `parse` checks that shape before
anything runs — a text that is not it (an unterminated here-document, `nft -f -` outside
the here-document, a second here-document) is refused with the line, since the point is
that the printed text is complete and runs as printed. `apply` writes each distinct fix text
to its own file and runs `sh -e FILE` (the first failing command stops it, as for the admin).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nflens.errors import ToolError

HEREDOC = re.compile(r"""^nft\s+-f\s+-\s+<<\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*$""")
OTHER_HEREDOC = re.compile(r"<<-?\s*['\"]?[A-Za-z_]")


@dataclass
class NftFix:
    """One fix text, parsed: its shell commands (outside the here-document) and nft script."""

    text: str
    commands: list[str] = field(default_factory=list)
    nft: str = ""


def is_nft_fix(text: str | None) -> bool:
    """Does this fix text carry an nft here-document (the placement's nft form)?"""
    return bool(text) and any(HEREDOC.match(t.strip()) for t in str(text).splitlines())


def parse(text: str) -> NftFix:
    """The fix's parts; a line outside the contract is a ToolError naming it."""
    fix, end = NftFix(text), None
    body: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if end is not None:
            if raw.rstrip() == end:  # a quoted delimiter ends only on a line of its own
                fix.nft, end = "\n".join(body) + "\n", None
            else:
                body.append(raw)
            continue
        m = HEREDOC.match(line)
        if m:
            if fix.nft:
                raise ToolError(f"nft fix line {number}: a second nft here-document")
            end, body = m.group(2), []
        elif OTHER_HEREDOC.search(line):
            raise ToolError(f"nft fix line {number}: a here-document that is not "
                            f"`nft -f - <<'EOF'`: {line!r}")
        elif re.match(r"^nft\s+(.*\s)?-f\s+-(\s|$)", line):
            raise ToolError(f"nft fix line {number}: nft reads its standard input outside "
                            f"the here-document: {line!r}")
        elif line and not line.startswith("#"):
            fix.commands.append(line)
    if end is not None:
        raise ToolError(f"nft fix: the here-document is not closed by a line `{end}`")
    if not fix.nft and not fix.commands:
        raise ToolError("nft fix: no command in it")
    return fix


Run = Callable[[Path], str]


def apply(fixes: list[str], workdir: Path, run: Run) -> list[Path]:
    """Check every text's shape first, then write each distinct text to `workdir/fix-N.sh`
    and `run` it (the caller runs `sh -e PATH` in the lab host). Returns the scripts run."""
    texts = list(dict.fromkeys(fixes))
    for text in texts:
        parse(text)
    workdir.mkdir(parents=True, exist_ok=True)
    done = []
    for n, text in enumerate(texts, 1):
        path = workdir / f"fix-{n}.sh"
        path.write_text(text if text.endswith("\n") else text + "\n")
        run(path)
        done.append(path)
    return done
