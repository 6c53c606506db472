"""The inverse of an apply, computed from the backup taken just before it.

iptables: the rollback is one `iptables-restore --noflush` transaction that touches only what
the apply touched, so that rules Docker adds in the meantime (a container started during the
confirm window) survive it:
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


def iptables_rollback(save_before: str) -> str:
    chains = _chains(filter_section(save_before))
    out = ["*filter"]
    for name in ("DOCKER-USER",) + OWN:
        out.append(f":{name} - [0:0]")
    for name in ("DOCKER-USER",) + OWN:
        out += chains.get(name, [])
    jump = "-j NFLENS-INPUT"
    out.append(f"-D INPUT {jump}")
    old = [line for line in chains.get("INPUT", [])]
    if f"-A INPUT {jump}" in old:
        out.append(f"-I INPUT {old.index(f'-A INPUT {jump}') + 1} {jump}")
    if "DOCKER-USER" not in chains:
        out.append("-X DOCKER-USER")
    out += [f"-X {name}" for name in OWN if name not in chains]
    return "\n".join(out + ["COMMIT"]) + "\n"


def nft_rollback(table_before: str | None) -> str:
    return NFT_RESET + (table_before or "")


def ebtables_rollback(save_before: str) -> str:
    """The saved dump itself; an empty dump (no bridge table yet) becomes an empty filter."""
    text = save_before.strip()
    if "*filter" not in text:
        return "*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n"
    return text + "\n"
