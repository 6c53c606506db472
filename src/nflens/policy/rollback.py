"""The inverse of an apply, computed from the backup taken just before it.

iptables: the rollback is one `iptables-restore --noflush` transaction that touches only what
the apply touched, so that rules Docker adds in the meantime (a container started during the
confirm window) survive it. It is computed when the rollback runs, from the backup *and* the
rules as they are then, so it is idempotent: running it after a crash at any point of an apply
(a step done, half done or not begun) or a second time gives the backup again:
- DOCKER-USER and the own chains that existed are declared (which flushes them under
  --noflush) and refilled with their saved lines, verbatim from iptables-save;
- own chains that did not exist are flushed, unreferenced and deleted (`-X`);
- INPUT is a built-in chain (a declaration does not flush it): our jump is deleted and, when it
  was there before, inserted back at its old position.
nft: the `inet nflens` table is replaced by its saved listing, or deleted, in one `nft -f`.
ebtables (take_over): the saved filter table is restored whole with `ebtables-restore`; under
take_over that table is nflens's own.
"""

from __future__ import annotations

from nflens.policy.iptables import CHAIN

OWN = tuple(CHAIN.values())
NFT_RESET = "add table inet nflens\ndelete table inet nflens\n"


def filter_section(save: str) -> list[str]:
    """The lines of the `*filter` table of an iptables-save dump (without COMMIT)."""
    out: list[str] = []
    inside = False
    for line in save.splitlines():
        if line.startswith("*"):
            inside = line == "*filter"
            continue
        if inside and line == "COMMIT":
            break
        if inside and not line.startswith("#"):
            out.append(line)
    return out


def _chains(lines: list[str]) -> dict[str, list[str]]:
    chains: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith(":"):
            chains[line[1:].split()[0]] = []
    for line in lines:
        if line.startswith("-A "):
            chains.setdefault(line.split()[1], []).append(line)
    return chains


JUMP = "-j NFLENS-INPUT"
RESTORED = ("DOCKER-USER",) + OWN


def _input_fix(before: dict[str, list[str]], now: dict[str, list[str]]) -> list[str]:
    """INPUT is a built-in chain (a declaration does not flush it): delete our jump as often as
    it is there *now* -- not as the apply left it: an admin may have deleted it by hand during
    the confirm window, and a `-D` of a missing rule fails the whole transaction -- and put it
    back at its old position when it was there before."""
    out = [f"-D INPUT {JUMP}" for line in now.get("INPUT", []) if line == f"-A INPUT {JUMP}"]
    old = before.get("INPUT", [])
    if f"-A INPUT {JUMP}" in old:
        out.append(f"-I INPUT {old.index(f'-A INPUT {JUMP}') + 1} {JUMP}")
    return out


def iptables_pieces(save_before: str, save_now: str) -> list[list[str]]:
    """The rollback as independent pieces (lines of one `*filter` transaction each), in order:
    INPUT's jump, each chain refilled (or flushed), then each chain the apply created deleted.
    Run together they are the one atomic rollback; when that fails (the firewall changed during
    the confirm window), each piece is tried alone so everything that can go back does."""
    before = _chains(filter_section(save_before))
    now = _chains(filter_section(save_now))
    pieces = [_input_fix(before, now)]
    for name in RESTORED:
        if name in before:
            pieces.append([f":{name} - [0:0]"] + before[name])
        elif name in now:
            pieces.append([f":{name} - [0:0]"])
    pieces += [[f"-X {name}"] for name in RESTORED if name not in before and name in now]
    return [p for p in pieces if p]


def transaction(pieces: list[list[str]]) -> str:
    """Declarations first: a refilled chain may jump to one declared in another piece."""
    lines = [line for p in pieces for line in p]
    decls = [line for line in lines if line.startswith(":")]
    rest = [line for line in lines if not line.startswith(":")]
    return "\n".join(["*filter", *decls, *rest, "COMMIT"]) + "\n"


def iptables_rollback(save_before: str, save_now: str | None = None) -> str:
    """The whole rollback as one transaction (against the rules as they are now)."""
    return transaction(iptables_pieces(save_before, save_before if save_now is None
                                       else save_now))


def iptables_residue(save_before: str, save_now: str) -> list[str]:
    """What still differs from the backup in the chains an apply touches (empty: rolled back).
    A rollback is finished only when this is empty; until then the pending record stays."""
    before = _chains(filter_section(save_before))
    now = _chains(filter_section(save_now))
    out = []
    for name in RESTORED:
        if name in before and now.get(name) != before[name]:
            out.append(f"{name} differs from the backup" if name in now
                       else f"{name} is missing")
        elif name not in before and name in now:
            out.append(f"{name} is still there")
    jumps = [i for i, line in enumerate(now.get("INPUT", [])) if line == f"-A INPUT {JUMP}"]
    old = [i for i, line in enumerate(before.get("INPUT", [])) if line == f"-A INPUT {JUMP}"]
    if jumps != old[:1]:
        out.append(f"INPUT's {JUMP} is at {jumps or 'no position'}, was at {old or 'none'}")
    return out


def nft_rollback(table_before: str | None) -> str:
    return NFT_RESET + (table_before or "")


def ebtables_rollback(save_before: str) -> str:
    """The saved dump itself; an empty dump (no bridge table yet) becomes an empty filter."""
    text = save_before.strip()
    if "*filter" not in text:
        return "*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n"
    return text + "\n"
