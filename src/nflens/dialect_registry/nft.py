"""nftables: `nft -j list ruleset` (JSON) and `nft list ruleset` (text) in, nft JSON or script
out (nflens.dialects.nft). Its listing shows every table of nf_tables, iptables-nft's and
ebtables-nft's too, so a snapshot reads it after their save dumps (snapshot/rulesets.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nflens.dialect_registry.base import FILE_NAME, JSON, NFT_SYNTAX, Dialect, Reader, Sniff

if TYPE_CHECKING:
    from nflens.ir.rules import Ruleset

_KEYWORDS = re.compile(r"^\s*(table|flush ruleset|add table|define|include)\b", re.M)


def detect_json(s: Sniff) -> int | None:
    if s.head.startswith(("{", "[")):
        return JSON
    return FILE_NAME + 3 if s.empty_named(".json") else None


def detect_text(s: Sniff) -> int | None:
    if _KEYWORDS.search(s.text):
        return NFT_SYNTAX
    return FILE_NAME + 4 if s.empty_named("nft") else None


def parse_json(text: str, file: str) -> Ruleset:
    from nflens.dialects import nft

    return nft.parse_json(text, file)


def parse_text(text: str, file: str) -> Ruleset:
    from nflens.dialects import nft

    return nft.parse_text(text, file)


def generate(ruleset: Ruleset) -> str:
    from nflens.dialects import nft

    return nft.generate_text(ruleset)


DIALECT = Dialect(
    name="nft", families=("ip", "ip6", "inet", "bridge", "arp", "netdev"), tool="nft",
    readers=(Reader("nft-json", "nft JSON", detect_json, parse_json),
             Reader("nft-text", "nft text", detect_text, parse_text)),
    generate=generate,
    save=("nft", "-j", "list", "ruleset"), restore=("nft", "-f", "-"),
    apply=("nft", "-j", "-f", "-"),  # policy/nft.py writes its transaction as JSON
    backup=("nft-ruleset.txt", ("nft", "list", "ruleset")),
    snapshot=(("nft.json", "nft-json"), ("nft.txt", "nft-text")),
    collect=("nft.json", ("nft", "-j", "list", "ruleset")),
    lists_all=True, match_key="nft", policy=True,
)
