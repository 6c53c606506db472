"""seed003 — blocking container egress in DOCKER-USER also blocks the replies of published ports.

The story (shared/seeds/003): a CTF host wants containers to accept connections on published
ports but never open connections out. A bare `-s 172.16.0.0/12 -j REJECT` in DOCKER-USER also
hits the *reply* packets of inbound connections (they come from the container, through FORWARD),
so the published port dies too. The write-up's fix returns RELATED,ESTABLISHED first.

Kernel facts:
- Replies of a DNATed connection traverse FORWARD with the container as source; conntrack state
  ESTABLISHED (or `--ctdir REPLY`) is what tells them apart from new egress.
- Container-to-host connections (to the bridge gateway 172.17.0.1) are delivered locally: they
  go through INPUT, never FORWARD, so DOCKER-USER cannot block them.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

FLUSH = ("iptables -F DOCKER-USER",)


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": 8080})


FLOWS = (
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
    FlowSpec("local-web", "host", "127.0.0.1", 8080),
    FlowSpec("web-egress-wan", "container:web", "198.51.100.2", 80),
    FlowSpec("web-egress-lan", "container:web", "10.99.0.2", 80),
    FlowSpec("web-to-host", "container:web", "172.17.0.1", 8000),
    FlowSpec("web-to-host-lan-addr", "container:web", "10.99.0.1", 8000),
)

SCENARIO = Scenario(
    name="seed003_egress",
    title="container egress block also kills replies; container-to-host not covered",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("broken", "REJECT everything from the containers in DOCKER-USER",
                FLUSH + ("iptables -A DOCKER-USER -s 172.16.0.0/12 -j REJECT",
                         "iptables -A DOCKER-USER -j RETURN")),
        Variant("fixed", "the write-up's fix: RELATED,ESTABLISHED return first",
                FLUSH + ("iptables -A DOCKER-USER -m state --state RELATED,ESTABLISHED -j RETURN",
                         "iptables -A DOCKER-USER -s 172.16.0.0/12 -j REJECT",
                         "iptables -A DOCKER-USER -j RETURN")),
        Variant("fixed-ctdir", "only the original direction from the containers is rejected",
                FLUSH + ("iptables -A DOCKER-USER -s 172.16.0.0/12 -m conntrack --ctdir ORIGINAL"
                         " -j REJECT",
                         "iptables -A DOCKER-USER -j RETURN")),
        Variant("none", "no egress rule at all (baseline)", ()),
    ),
)
