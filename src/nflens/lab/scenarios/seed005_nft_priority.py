"""seed005 — an nftables forward base chain with policy drop kills Docker-forwarded traffic.

A firewalld-like `table inet filterx` with its own `forward` base chain (policy drop) sits beside
the iptables-nft tables Docker manages. Every base chain on a hook runs, in priority order, and an
`accept` is final only for the base chain that issued it (nft(8): "accept ... stops evaluation of
the current base chain"; a drop anywhere is final). So Docker's ACCEPT in `ip filter FORWARD`
(priority 0) does not save a packet that `inet filterx forward` drops — whatever the priorities
(-10 runs before Docker's chain, 0 ties and runs in registration order, 10 after).

Fix: accept in filterx what Docker forwards: `ct state established,related accept` plus
`ct status dnat meta l4proto tcp ct original proto-dst 8080 accept` (the published port,
pre-DNAT, from conntrack; nft needs the l4proto to parse proto-dst).
Container egress stays blocked by filterx in every variant but `accept-docker0`.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant


def filterx(priority: int, *rules: str) -> tuple[str, ...]:
    lines = ["nft add table inet filterx",
             f"nft add chain inet filterx forward '{{ type filter hook forward priority "
             f"{priority}; policy drop; }}'",
             "nft add rule inet filterx forward ct state established,related accept"]
    return tuple(lines) + tuple(f"nft add rule inet filterx forward {r}" for r in rules)


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": 8080})


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
    FlowSpec("local-web", "host", "127.0.0.1", 8080),
    FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
    FlowSpec("web-to-host", "container:web", "172.17.0.1", 8000),
    FlowSpec("lan-to-wan-peer", "eth0", "198.51.100.2", 80),
)

PUBLISHED = "ct status dnat meta l4proto tcp ct original proto-dst 8080 accept"

SCENARIO = Scenario(
    name="seed005_nft_priority",
    title="nft forward base chain (policy drop) beside Docker's iptables-nft rules",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("broken", "filterx forward priority 0 policy drop", filterx(0)),
        Variant("broken-prio-minus10", "filterx forward priority -10 policy drop", filterx(-10)),
        Variant("broken-prio-10", "filterx forward priority 10 policy drop", filterx(10)),
        Variant("fixed", "filterx accepts DNATed connections to the published port",
                filterx(0, PUBLISHED)),
        Variant("accept-docker0", "filterx also accepts everything from docker0 (egress)",
                filterx(0, PUBLISHED, 'iifname "docker0" accept')),
    ),
)
