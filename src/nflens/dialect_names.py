"""The names of the dialects nflens reads, apart from their parsers: `nflens --help` shows them
and must not import a parser to do so (it stays fast by importing nothing heavy)."""

DIALECTS = ("iptables", "ip6tables", "nft-json", "nft-text", "ebtables")
