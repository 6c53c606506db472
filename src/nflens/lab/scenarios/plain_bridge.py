"""A plain Linux bridge with a host behind it that is not Docker's (libvirt's virbr0, LXC).

`virbr0` 192.168.122.1/24 with one port, `vnet0`, to a "VM" namespace at 192.168.122.50 that
routes via the bridge address and serves `nflens:vm` on port 80 (issue 24 class 15). The
snapshot shows the bridge and its port, never who sits behind it: nflens answers as the kernel
would if such a host exists and answers, and says so. The LAN, the host and a container reach
the VM through FORWARD/OUTPUT; the VM reaches the host, the LAN and a published port.
`docker-user-drop` adds `DOCKER-USER -o virbr0 -j DROP`: what the host forwards into the bridge
(including the LAN's answers to the VM) is dropped, what the host itself sends is not.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

BRIDGE = ("ip link add virbr0 type bridge", "ip addr add 192.168.122.1/24 dev virbr0",
          "ip link set vnet0 master virbr0", "ip link set virbr0 up")


def build(ctx) -> None:
    vm = ctx.lab.add_netns("vm")
    ctx.lab.add_veth(ctx.host, "vnet0", vm, "eth0")
    for line in BRIDGE:
        ctx.sh(line)
    ctx.lab.add_addr(vm, "eth0", "192.168.122.50/24")
    ctx.lab.add_route(vm, "0.0.0.0/0", "192.168.122.1")
    ctx.topo.clients["virbr0"] = vm
    ctx.topo.client_addrs["virbr0"] = ["192.168.122.50"]
    ctx.topo.serve_http(vm, 80, "nflens:vm")
    ctx.server("web", ports={"80/tcp": 8080})  # 172.17.0.2


FLOWS = (
    FlowSpec("lan-vm", "eth0", "192.168.122.50", 80),
    FlowSpec("wan-vm", "eth1", "192.168.122.50", 80),
    FlowSpec("host-vm", "host", "192.168.122.50", 80),
    FlowSpec("web-vm", "container:web", "192.168.122.50", 80),
    FlowSpec("vm-host", "virbr0", "192.168.122.1", 8000),
    FlowSpec("vm-lan", "virbr0", "10.99.0.2", 80),
    FlowSpec("vm-web-published", "virbr0", "10.99.0.1", 8080),
)

SCENARIO = Scenario(
    name="plain_bridge",
    title="a plain Linux bridge with a non-Docker host behind it",
    story=__doc__,
    build=build,
    flows=FLOWS,
    variants=(
        Variant("open", "the bridge and the VM, no rules of the admin's"),
        Variant("docker-user-drop", "DOCKER-USER drops what is forwarded into virbr0",
                ("iptables -I DOCKER-USER -o virbr0 -j DROP",)),
    ),
)
