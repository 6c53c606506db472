"""lab/docker29.py: the Docker 29 nftables rules moby's nftabler writes (no root needed)."""

from __future__ import annotations

from nflens.lab.docker29 import Ctr, Engine, Net, Publish, files, ruleset

BR = Net("bridge", "172.17.0.0/16", default=True)
INT = Net("backend", "172.20.0.0/16", internal=True)


def _lines(text: str) -> list[str]:
    return [t.strip() for t in text.splitlines()]


def test_a_published_port_gets_dnat_forward_accept_and_the_direct_access_drop():
    text = ruleset(Engine((BR,), (Ctr("web", BR, "172.17.0.2", (Publish(80, 8080),)),)))
    lines = _lines(text)
    assert 'iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.2:80 comment "DNAT"' \
        in lines
    assert 'ip daddr 172.17.0.2 iifname != "docker0" counter drop comment "DROP DIRECT ACCESS"' \
        in lines
    accept = lines.index("ip daddr 172.17.0.2 tcp dport 80 counter accept")
    assert lines[accept + 1] == 'counter drop comment "UNPUBLISHED PORT DROP"'
    assert text.count("dnat to") == 1  # the `::` binding of an IPv4 container is the proxy's


def test_a_port_bound_to_one_address_matches_that_destination_only():
    c = Ctr("web", BR, "172.17.0.2", (Publish(80, 8080, host_ip="10.99.0.1"),))
    assert ('iifname != "docker0" ip daddr 10.99.0.1 tcp dport 8080 counter dnat to '
            '172.17.0.2:80 comment "DNAT"') in _lines(ruleset(Engine((BR,), (c,))))
    assert files(Engine((BR,), (c,)))["docker-containers.json"][0]["NetworkSettings"][
        "Ports"]["80/tcp"] == [{"HostIp": "10.99.0.1", "HostPort": "8080"}]


def test_an_internal_network_has_no_nat_no_ports_and_drops_what_leaves_it():
    db = Ctr("db", INT, "172.20.0.2", (Publish(80, 9090),))
    lines = _lines(ruleset(Engine((BR, INT), (db,))))
    br = INT.bridge
    assert f'iifname != "{br}" counter drop comment "INTERNAL NETWORK INGRESS"' in lines
    assert f'oifname != "{br}" counter drop comment "INTERNAL NETWORK EGRESS"' in lines
    assert not any("9090" in t or "172.20.0.0/16 counter masquerade" in t for t in lines)
    assert not any("DROP DIRECT ACCESS" in t for t in lines)


def test_both_families_have_the_base_chains_at_moby_priorities():
    text = ruleset(Engine((BR,)))
    assert text.count("table ip docker-bridges") == 1 and "table ip6 docker-bridges" in text
    for head in ("type filter hook forward priority 0;", "type nat hook prerouting priority -100;",
                 "type nat hook output priority -100;", "type nat hook postrouting priority 100;",
                 "type filter hook prerouting priority -300;"):
        assert text.count(head) == 2, head
    assert "ip6 daddr != ::1 fib daddr type local" in text
    assert "input" not in text  # Docker does not use the input hook


def test_docker_files_say_nftables_and_docker_29():
    out = files(Engine((BR,)))
    assert out["daemon.json"] == {"firewall-backend": "nftables"}
    assert out["docker-info.json"]["FirewallBackend"] == {"Driver": "nftables"}
    assert out["docker-version.json"]["Server"]["Version"].startswith("29.")


def test_an_ipv6_network_gets_the_ip6_table_rules_with_the_link_local_skip():
    net = Net("bridge", "172.17.0.0/16", default=True, subnet6="fd17::/64")
    c = Ctr("web", net, "172.17.0.2", (Publish(80, 8080),), addr6="fd17::2")
    text = ruleset(Engine((net,), (c,)))
    ip6 = _lines(text[text.index("table ip6 docker-bridges"):])
    assert ('iifname != "docker0" ip6 saddr != fe80::/10 tcp dport 8080 counter dnat to '
            '[fd17::2]:80 comment "DNAT"') in ip6
    assert 'oifname != "docker0" ip6 saddr fd17::/64 counter masquerade comment "MASQUERADE"' \
        in ip6
    assert 'ip6 daddr fd17::2 iifname != "docker0" counter drop comment "DROP DIRECT ACCESS"' \
        in ip6
    net_json = files(Engine((net,), (c,)))["docker-networks.json"][0]
    assert net_json["EnableIPv6"] and [x["Subnet"] for x in net_json["IPAM"]["Config"]] == [
        "172.17.0.0/16", "fd17::/64"]
