"""The ebtables dialect: `ebtables-save` text <-> IR (family "bridge", origin "ebtables").

    parse(text, file="<input>") -> Ruleset     (raises ParseError(message, file, line))
    generate(ruleset) -> str                   (ebtables-restore input)

Matches become XtMatch("eb", ...) for the built-in part and "eb_ip", "eb_ip6", "eb_arp",
"eb_vlan", "eb_mark", "eb_among", "eb_pkttype", "eb_stp", "eb_limit", "eb_802_3" for the
extensions; their concrete semantics live in nflens.kernel.matches.eb_*. The dialect as one
object (names, detection, commands, snapshot files) is nflens.dialect_registry.ebtables.
"""

from __future__ import annotations

from nflens.dialects.ebtables.generator import generate, rule_text
from nflens.dialects.ebtables.parser import BUILTIN_CHAINS, parse

NAME = "ebtables"


__all__ = ["BUILTIN_CHAINS", "NAME", "generate", "parse", "rule_text"]
