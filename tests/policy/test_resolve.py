"""The user's terms resolved on a snapshot: ports, labels, groups; and the compiled rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nflens.errors import PolicyError
from nflens.policy import iptables as xt
from nflens.policy import nft as xt_nft
from nflens.policy.compile import compile_rules
from nflens.policy.plan import host_dialect, make_plan
from nflens.policy.resolve import resolve
from nflens.policy.schema import Policy
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"


@pytest.fixture(scope="module")
def seed004():
    return read_snapshot(LAB / "seed004_dnat_port-broken")  # tomcat: -p 80:8080


def _policy(**kw) -> Policy:
    return Policy.model_validate({"version": 1, **kw})


@pytest.mark.parametrize("port", [80, 8080])
def test_port_is_the_host_port_or_the_container_port(seed004, port):
    res = resolve(_policy(inbound={"ports": [{"container": "tomcat", "port": port}]}), seed004)
    assert [(i.host_port, i.container_port) for i in res.inbound] == [(80, 8080)]


def test_unpublished_port_is_an_error_naming_what_is_published(seed004):
    with pytest.raises(PolicyError, match=r"publishes no port 81/tcp \(published: 80->8080/tcp\)"):
        resolve(_policy(inbound={"ports": [{"container": "tomcat", "port": 81}]}), seed004)


def test_unknown_network_is_an_error(seed004):
    with pytest.raises(PolicyError, match="unknown Docker network 'nope'"):
        resolve(_policy(egress=[{"network": "nope"}]), seed004)


def test_an_unknown_container_is_an_error(seed004):
    # issue 16.12: a typo in a container name must not leave its port open with exit 0
    with pytest.raises(PolicyError, match=r"container ghost: no such container on this host "
                                          r"\(containers: tomcat\); --allow-missing skips it"):
        resolve(_policy(inbound={"ports": [{"container": "ghost", "port": 80}]}), seed004)


def test_an_unknown_container_is_a_warning_with_allow_missing(seed004):
    res = resolve(_policy(inbound={"ports": [{"container": "ghost", "port": 80}]}), seed004,
                  allow_missing=True)
    assert res.inbound == [] and "container ghost" in res.warnings[0]


def test_groups_nest_and_cycles_are_reported(seed004):
    res = resolve(_policy(groups={"a": ["10.0.0.0/8"], "b": ["a", "192.0.2.0/24"]},
                          inbound={"ports": [{"container": "tomcat", "port": 80, "from": ["b"]}]}),
                  seed004)
    assert [str(n) for n in res.inbound[0].sources] == ["10.0.0.0/8", "192.0.2.0/24"]
    with pytest.raises(PolicyError, match="contains itself"):
        resolve(_policy(groups={"a": ["b"], "b": ["a"]},
                        inbound={"ports": [{"container": "tomcat", "port": 80, "from": ["a"]}]}),
                seed004)


@pytest.fixture(scope="module")
def seed003():
    return read_snapshot(LAB / "seed003_egress-none")  # web: -p 8080:80, egress open


def test_container_label_carries_its_own_policy(seed003):
    c = seed003.docker.containers[0]
    labelled = replace(c, labels=c.labels + (("nflens.policy",
                                              "{egress: {default: deny, dns: false}}"),))
    host = replace(seed003, docker=replace(seed003.docker, containers=(labelled,)))
    res = resolve(_policy(), host)
    assert len(res.egress) == 1 and res.egress[0].sources == (
        __import__("ipaddress").ip_network("172.17.0.2/32"),)
    plan = make_plan(_policy(), host)
    assert plan.ok
    denied = [j for j in plan.verification.changes if j.probe.kind == "egress"]
    assert denied and all(j.after.verdict == "deny" for j in denied)


def test_bad_label_policy_names_the_container(seed004):
    c = seed004.docker.containers[0]
    labelled = replace(c, labels=(("nflens.policy", "{egress: {default: sometimes}}"),))
    host = replace(seed004, docker=replace(seed004.docker, containers=(labelled,)))
    with pytest.raises(PolicyError, match="container tomcat, label nflens.policy: egress.default"):
        resolve(_policy(), host)


def test_container_statement_overrides_its_network(seed003):
    """first match wins in the egress chain: the container's own statement comes first"""
    pol = _policy(egress=[{"network": "bridge", "default": "deny"},
                          {"container": "web", "default": "allow"}])
    plan = make_plan(pol, seed003)
    assert plan.ok
    assert not [j for j in plan.verification.changes if j.probe.kind == "egress"]
    without = make_plan(_policy(egress=[{"network": "bridge", "default": "deny"}]), seed003)
    assert [j for j in without.verification.changes if j.probe.kind == "egress"]


def test_reapplying_on_a_host_that_has_the_policy_changes_nothing(seed004):
    pol = _policy(inbound={"ports": [{"container": "tomcat", "port": 80, "from": ["10.0.0.0/8"]}]})
    first = make_plan(pol, seed004)
    again = make_plan(pol, first.after)
    assert again.diff == ""
    assert "-I DOCKER-USER" not in again.payloads["iptables"]
    assert "-I DOCKER-USER 1 -j NFLENS-USER" in first.payloads["iptables"]


def test_jump_not_first_is_moved_to_the_top(seed004):
    pol = _policy()
    after = make_plan(pol, seed004).after
    table = after.ruleset.table("ip", "filter")
    user = table.chain("DOCKER-USER")
    moved = replace(user, rules=user.rules[1:] + user.rules[:1])
    chains = tuple(moved if c.name == "DOCKER-USER" else c for c in table.chains)
    tables = tuple(replace(t, chains=chains) if t is table else t for t in after.ruleset.tables)
    host = replace(after, ruleset=replace(after.ruleset, tables=tables))
    payload = xt.restore_payload(compile_rules(resolve(pol, host)), host, 4)
    assert "-D DOCKER-USER -j NFLENS-USER\n-I DOCKER-USER 1 -j NFLENS-USER" in payload


def test_dialect_follows_the_host(seed004):
    assert host_dialect(seed004) == "iptables"
    daemon = replace(seed004.docker.daemon, firewall_backend="nftables")
    assert host_dialect(replace(seed004, docker=replace(seed004.docker, daemon=daemon))) == "nft"


def test_take_over_is_refused_for_nft(seed004):
    with pytest.raises(PolicyError, match="take_over is for iptables"):
        make_plan(_policy(take_over=["DOCKER-USER"]), seed004, "nft")


def _stopped(host, name: str):
    """`host` with container `name` stopped the way `docker inspect` shows it: still attached
    to its networks (no address) and with its port bindings (HostConfig.PortBindings)."""
    docker = host.docker
    containers = tuple(
        replace(c, running=False, pid=None,
                endpoints=tuple(replace(e, ipv4=None, ipv6=None) for e in c.endpoints))
        if c.name.lstrip("/") == name else c for c in docker.containers)
    return replace(host, docker=replace(docker, containers=containers))


def test_a_stopped_container_keeps_its_port_rules_for_any_address(seed004):
    """Skipping it left its published port open to everyone from its start until the next
    apply (lab: seed 004, policy applied while tomcat was stopped, then `docker start`)."""
    host = _stopped(seed004, "tomcat")
    policy = _policy(groups={"office": ["10.99.0.0/24"]},
                     inbound={"ports": [{"container": "tomcat", "port": 80, "from": ["office"]}]})
    res = resolve(policy, host)
    assert [(i.target.addrs, i.host_port, i.container_port) for i in res.inbound] == \
        [((), 80, 8080)]
    assert "not running; the rules of its port 80/tcp hold for any address" in res.warnings[0]
    plan = make_plan(policy, host, "iptables")
    inbound = [line for line in plan.payloads["iptables"].splitlines()
               if line.startswith("-A NFLENS-INBOUND")]
    assert len(inbound) == 2 and not any(" -d " in line for line in inbound)
    assert "-s 10.99.0.0/24" in inbound[0] and inbound[0].endswith("-j RETURN")
    assert "--ctorigdstport 80" in inbound[1] and inbound[1].endswith("-j DROP")
    assert "--dport 8080" in inbound[1] and "-o docker0" in inbound[1]
    assert plan.ok
    nft_rules = xt_nft.current_text(make_plan(policy, host, "nft").after)
    assert 'inbound: iifname != "docker0" oifname "docker0" tcp dport 8080 ct original ' \
        'proto-dst 80 drop comment "nflens: inbound.ports[0] (container tomcat port 80/tcp)"' \
        in nft_rules


def test_a_comment_cut_at_its_limit_stays_one_quoted_word():
    """The comment was cut to 240 characters after its backslashes were doubled: a doubled
    backslash cut in half escaped the closing quote, and the line no longer split into words
    (iptables-restore: unterminated quoted string) -- found merging the two quoting helpers
    (issue 17). Cut first, then quoted: the word reads back as the first 240 characters."""
    import shlex

    from nflens.policy.model import PRule

    comment = "x" * 231 + "\\" + "y" * 20  # "nflens: " + 231 x: the backslash is character 240
    words = shlex.split(" ".join(xt.rule_args(PRule("inbound", "drop", comment=comment))))
    assert words[words.index("--comment") + 1] == ("nflens: " + comment)[:240]
    assert words[-2:] == ["-j", "DROP"]
