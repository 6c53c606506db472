"""ufw_docker — seeds 001/004 told the ufw way, on the real ufw 0.36 (issue 12 item 3).

The story: the admin runs ufw, as Debian and Ubuntu tell him to: `ufw default deny incoming`,
tomcat's port 80 only from the office (`ufw allow from 10.99.0.0/24 to any port 80 proto
tcp`), a host service rate-limited (`ufw limit 8000/tcp`), another one open to the containers
only (`ufw allow in on docker0 to any port 8001 proto tcp`), and a third (8002) with no rule.
ufw is enabled at boot, before dockerd (the order of their units). Docker publishes tomcat
`-p 80:8080` and web `-p 8080:80`: both are open to the WAN anyway — the DNATed packets are
forwarded, FORWARD jumps to Docker's chains before ufw's, and ufw's INPUT rules never see
them. A container reaching the host (172.17.0.1 or any host address) *is* filtered by ufw's
INPUT chains. A WAN neighbour that routes 172.17.0.0/16 via the host reaches the containers'
own addresses too (`wan-*-direct`): Docker's FORWARD rules accept them before ufw's chains
(Docker 28 drops such packets in its raw table).

Variants (everything in `boot`, i.e. the host as it comes up after the change and a reboot):
- broken: the ufw rules above.
- ufw-docker: the ufw-docker project's fix: a DOCKER-USER block appended to
  /etc/ufw/after.rules (private sources pass, new TCP/UDP to a private destination from
  anywhere else is dropped unless `ufw route allow` allows it), and
  `ufw route allow proto tcp from any to 172.17.0.2 port 80` for web. tomcat is then closed to
  the WAN, web open; the LAN (a private source) keeps both.
The LAN is 10.99.0.0/24 (the office), the WAN client 198.51.100.2.
"""

from __future__ import annotations

from nflens.lab.scenarios import FlowSpec, Scenario, Variant

BOOT = (
    "ufw default deny incoming",
    "ufw allow from 10.99.0.0/24 to any port 80 proto tcp",
    "ufw limit 8000/tcp",
    "ufw allow in on docker0 to any port 8001 proto tcp",
)
ENABLE = ("ufw --force enable",)

# The block ufw-docker (github.com/chaifeng/ufw-docker) appends to /etc/ufw/after.rules; a
# backslash at a line's end joins it to the next (the string holds the block's lines as they are).
AFTER_RULES = """
# BEGIN UFW AND DOCKER
*filter
:ufw-user-forward - [0:0]
:ufw-docker-logging-deny - [0:0]
:DOCKER-USER - [0:0]
-A DOCKER-USER -j ufw-user-forward

-A DOCKER-USER -j RETURN -s 10.0.0.0/8
-A DOCKER-USER -j RETURN -s 172.16.0.0/12
-A DOCKER-USER -j RETURN -s 192.168.0.0/16

-A DOCKER-USER -p udp -m udp --sport 53 --dport 1024:65535 -j RETURN

-A DOCKER-USER -j ufw-docker-logging-deny -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN \
-d 192.168.0.0/16
-A DOCKER-USER -j ufw-docker-logging-deny -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN \
-d 10.0.0.0/8
-A DOCKER-USER -j ufw-docker-logging-deny -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN \
-d 172.16.0.0/12
-A DOCKER-USER -j ufw-docker-logging-deny -p udp -m udp --dport 0:32767 -d 192.168.0.0/16
-A DOCKER-USER -j ufw-docker-logging-deny -p udp -m udp --dport 0:32767 -d 10.0.0.0/8
-A DOCKER-USER -j ufw-docker-logging-deny -p udp -m udp --dport 0:32767 -d 172.16.0.0/12

-A DOCKER-USER -j RETURN

-A ufw-docker-logging-deny -m limit --limit 3/min --limit-burst 10 -j LOG \
--log-prefix "[UFW DOCKER BLOCK] "
-A ufw-docker-logging-deny -j DROP

COMMIT
# END UFW AND DOCKER
"""
UFW_DOCKER = (f"cat >> /etc/ufw/after.rules <<'EOF'\n{AFTER_RULES.strip()}\nEOF",
              "ufw route allow proto tcp from any to 172.17.0.2 port 80")


def build(ctx) -> None:
    ctx.server("web", ports={"80/tcp": 8080})  # 172.17.0.2
    ctx.server("tomcat", port=8080, ports={"8080/tcp": 80})  # 172.17.0.3


FLOWS = (
    FlowSpec("lan-tomcat", "eth0", "10.99.0.1", 80),
    FlowSpec("wan-tomcat", "eth1", "198.51.100.1", 80),
    FlowSpec("lan-web", "eth0", "10.99.0.1", 8080),
    FlowSpec("wan-web", "eth1", "198.51.100.1", 8080),
    FlowSpec("wan-web-direct", "eth1", "172.17.0.2", 80, note="a neighbour routing to it"),
    FlowSpec("wan-tomcat-direct", "eth1", "172.17.0.3", 8080, note="a neighbour routing to it"),
    FlowSpec("lan-limited-svc", "eth0", "10.99.0.1", 8000, note="ufw limit"),
    FlowSpec("wan-limited-svc", "eth1", "198.51.100.1", 8000, note="ufw limit"),
    FlowSpec("wan-docker0-svc", "eth1", "198.51.100.1", 8001),
    FlowSpec("lan-closed-svc", "eth0", "10.99.0.1", 8002),
    FlowSpec("web-to-host-limited", "container:web", "172.17.0.1", 8000),
    FlowSpec("web-to-host-docker0-svc", "container:web", "172.17.0.1", 8001),
    FlowSpec("tomcat-to-host-lanaddr", "container:tomcat", "10.99.0.1", 8001),
    FlowSpec("web-to-host-closed", "container:web", "172.17.0.1", 8002),
    FlowSpec("web-egress", "container:web", "198.51.100.2", 80),
    FlowSpec("local-tomcat", "host", "127.0.0.1", 80),
)

SCENARIO = Scenario(
    name="ufw_docker",
    title="the real ufw: published ports open to the WAN anyway; the ufw-docker fix",
    story=__doc__,
    build=build,
    flows=FLOWS,
    host_services=(8000, 8001, 8002),
    firewall="ufw",
    variants=(
        Variant("broken", "ufw default deny incoming, port 80 from the office only; Docker "
                "publishes 80 and 8080: both open to the WAN", boot=BOOT + ENABLE),
        Variant("ufw-docker", "ufw-docker's DOCKER-USER block in after.rules, `ufw route "
                "allow` for web only", boot=BOOT + UFW_DOCKER + ENABLE),
    ),
)
