"""`ipset save` output, read into `ir.ipset.IpSet`s (see parser.py).

Not a ruleset dialect: ipset has no chains or verdicts, only the sets that iptables' `-m set`
rules look up; it is read beside the rulesets of a snapshot (CONTRACT §2 `ipset-save.txt`)."""

from nflens.dialects.ipset.parser import parse

__all__ = ["parse"]
