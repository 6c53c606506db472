"""Docker 28's gateway priority: a container on two normal networks takes its default route from
the endpoint with the highest `GwPriority` (`docker network connect --gw-priority`), not from the
first network by name (libnetwork's epHeap.Less: internal last, then gw-priority, then name).

`multi` is created on `alpha` (10.66.0.0/24) and connected to `zulu` (10.77.0.0/24) with
GwPriority 10: its default route goes via zulu's gateway. The admin's DOCKER-USER rule drops
what multi sends from its zulu address to the WAN, so its egress dies there, while `solo` on
alpha only still gets out.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant


def build(ctx) -> None:
    ctx.network("alpha", "10.66.0.0/24", "10.66.0.1")
    zulu = ctx.network("zulu", "10.77.0.0/24", "10.77.0.1")
    ctx.server("solo", network="alpha", ip="10.66.0.10")
    multi = ctx.server("multi", network="alpha", ip="10.66.0.20")
    api = ctx.docker.client.api
    api._raise_for_status(api._post_json(api._url("/networks/{0}/connect", zulu.id), data={
        "Container": multi.id, "EndpointConfig": {
            "IPAMConfig": {"IPv4Address": "10.77.0.20"}, "GwPriority": 10}}))


FLOWS = (
    FlowSpec("multi-egress", "container:multi", "198.51.100.2", 80),
    FlowSpec("multi-lan", "container:multi", "10.99.0.2", 80),
    FlowSpec("multi-to-solo", "container:multi", "10.66.0.10", 80),
    FlowSpec("solo-egress", "container:solo", "198.51.100.2", 80),
)

SCENARIO = Scenario(
    name="gw_priority",
    title="Docker 28 --gw-priority picks a two-network container's default route",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(Variant("drop-zulu-egress", "DOCKER-USER drops multi's zulu address to the WAN",
                      ("iptables -I DOCKER-USER -s 10.77.0.20 -o eth1 -j DROP",)),),
    dockers=("28",),
)
