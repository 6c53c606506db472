"""arptables (arp family): known by name, its tool and commands, but not read or written.

nflens has no arptables-save reader and no generator, and a snapshot holds no arptables file
(CONTRACT §2). What it can do: the arp family's tables are read from nft.json, where
arptables-nft keeps them as native nf_tables rules. Measured (arptables v1.8.9 (nf_tables), in a
network namespace): `arptables -A INPUT -s 10.1.2.3 -j DROP` is listed by `nft -j list ruleset`
as `table arp filter`, chain INPUT hook input priority 0, with payload matches
`arp htype 1 arp hlen 6 arp plen 4 arp saddr ip 10.1.2.3` and `drop`: no opaque xt expression.
An x_tables (legacy) arptables ruleset is not seen at all.
"""

from __future__ import annotations

from nflens.dialect_registry.base import Dialect

DIALECT = Dialect(
    name="arptables", families=("arp",), tool="arptables",
    save=("arptables-save",), restore=("arptables-restore",),
    unsupported=("no arptables-save reader or generator and no snapshot file (CONTRACT §2): "
                 "arp-family tables are read from nft.json, where arptables-nft keeps them as "
                 "native nft rules; legacy arptables rules are not seen"),
)
