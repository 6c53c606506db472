"""Native nft port forwards (issue 28): a hand-written `table ip nat` prerouting `dnat to` a VM
behind a bridge is in the audit's exposure like a published port, and the input chain it
bypasses gives the input-bypass finding with a verified nft fix.

Fixture: tests/fixtures/nft_native/native (built in the lab by lab/nfthost.py; the kernel let
the LAN and the WAN through to the VM on 8080 while the input chain admits nobody there).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from nflens.analysis.audit import audit
from nflens.analysis.forwards import forwards
from nflens.analysis.placement.nft import HEREDOC
from nflens.ir.host import Container, ContainerEndpoint
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

NATIVE = REPO / "tests" / "fixtures" / "nft_native" / "native"
SUBJECT = "tcp/0.0.0.0:8080->192.168.122.50:80"


@pytest.fixture(scope="module")
def native():
    return read_snapshot(NATIVE)


@pytest.fixture(scope="module")
def native_audit(native):
    return audit(native)


def test_a_native_dnat_to_a_vm_is_a_forwarded_port(native):
    (found,) = forwards(native)
    b = found.binding
    assert (b.proto, b.host_ip, b.host_port, b.container_port) == ("tcp", "", 8080, 80)
    assert (found.guest.name, found.bridge) == ("192.168.122.50", "virbr0")
    assert found.rule.source is not None and found.rule.source.line == 14


def test_the_forwarded_port_is_in_the_exposure_with_who_reaches_it(native_audit):
    (exp,) = [e for e in native_audit["exposure"] if e["host_port"] == 8080]
    assert exp["target"]["dnat"] == "192.168.122.50"
    # the contract's target shape: {"container", "addr", "port"} (no container here)
    assert {k: exp["target"][k] for k in ("container", "addr", "port")} == \
        {"container": None, "addr": "192.168.122.50", "port": 80}
    assert exp["target"]["behind"] == "virbr0"
    reach = {r["iface"]: r["readable"] for r in exp["reachable_from"]}
    # what the kernel did in the lab: the LAN and the WAN reached the VM on 8080
    assert reach["eth0"] == ["10.99.0.0/24 (except 10.99.0.1, 10.99.0.255)"]
    assert reach["eth1"] == ["198.51.100.0/24 (except 198.51.100.1, 198.51.100.255)"]


def test_the_input_chain_it_bypasses_gives_input_bypass_with_a_verified_nft_fix(native_audit):
    (f,) = [f for f in native_audit["findings"] if f["id"] == "input-bypass"]
    assert f["subject"] == SUBJECT
    assert "nft.json:14" in f["explanation"] and "input chain never sees" in f["explanation"]
    assert f["fix_verified"] is True
    assert HEREDOC in f["fix"] and "ct original proto-dst 8080" in f["fix"]
    assert "iptables" not in f["fix"].split("EOF")[0]
    assert native_audit["fix_script"]["verified"] is True


def test_a_dnat_to_a_container_address_is_the_runtimes_not_a_forward(native):
    vm = ContainerEndpoint("virbr0", ipv4=ipaddress.ip_interface("192.168.122.50/24"))
    container = Container("c1", "/web", endpoints=(vm,))
    host = replace(native, docker=replace(native.docker, containers=(container,)))
    assert forwards(host) == []


def test_a_dnat_with_a_match_it_does_not_read_is_not_guessed(native):
    nat = next(t for t in native.ruleset.tables if t.name == "nat")
    pre = nat.chain("prerouting")
    assert pre is not None
    rule = pre.rules[0]
    odd = replace(rule, exprs=(rule.exprs[0], "unknown", *rule.exprs[1:]))
    chains = tuple(replace(c, rules=(odd,)) if c.name == "prerouting" else c
                   for c in nat.chains)
    tables = tuple(replace(t, chains=chains) if t is nat else t for t in native.ruleset.tables)
    assert forwards(replace(native, ruleset=replace(native.ruleset, tables=tables))) == []


def test_the_guest_reachable_at_its_own_address_gives_direct_access_with_an_nft_fix(native_audit):
    """The lab's `wan-vm-direct`: the WAN routes to 192.168.122.50 via the host and the forward
    chain (policy accept) lets it through, on every port, not only the forwarded one."""
    (f,) = [f for f in native_audit["findings"] if f["id"] == "direct-container-access"]
    assert f["subject"] == "guest 192.168.122.50"
    assert "eth1: 198.51.100.0/24" in f["explanation"]
    assert f["fix_verified"] is True
    assert 'ip daddr 192.168.122.50/32 iifname != "virbr0"' in f["fix"]
    assert "ct status & dnat == 0 drop" in f["fix"]


def test_the_direct_access_drop_as_nft_lists_it_spares_the_dnated_connection(native):
    """nft lists the fix's `ct status & dnat == 0` as `ct status ! dnat` (op "!"), which the
    model once left uncertain ("cannot order {} against dnat"): the re-collected host's check
    disagreed with the kernel's deny in the lab. Now: the direct connection is dropped, the
    DNATed one passes (the lab: wan-vm-direct deny; the DNAT's own verdict is input-bypass's)."""
    from nflens.analysis.fixes import Fix, apply
    from nflens.flows import load_flows
    from nflens.kernel.simulate import Simulator

    script = ("add table ip nflens\nadd chain ip nflens d { type filter hook forward priority "
              "filter - 1; policy accept; }\nadd rule ip nflens d ip daddr 192.168.122.50/32 "
              'iifname != "virbr0" ct direction original ct status & dnat == 0 drop\n')
    sim = Simulator(apply(native, Fix(nft=script)))
    flows = {f.name: f for f in load_flows(NATIVE / "flows.json")}
    assert sim.run(flows["wan-vm-direct"]).verdict == "deny"
    assert sim.run(flows["wan-vm-dnat"]).verdict == "allow"
    assert sim.run(flows["host-vm"]).verdict == "allow"


def test_the_text_view_names_the_forwards_guest(tmp_path):
    """The exposure table once showed `?` as the target of a native forward."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "nflens", "audit", "--snapshot", str(NATIVE)],
                         capture_output=True, text=True, timeout=120,
                         env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    assert "DNAT 192.168.122.50:80" in out


def test_the_html_and_diff_views_name_the_forwards_guest_not_a_container(native_audit):
    """The target carries the contract's `container: None`: the views must still say DNAT."""
    from nflens.report.diff import port_label
    from nflens.report.html.audit_html import _target

    exp = next(e for e in native_audit["exposure"] if "dnat" in e["target"])
    assert _target(exp["target"]) == "DNAT to 192.168.122.50:80"
    assert port_label(exp).endswith("-> DNAT 192.168.122.50:80")
