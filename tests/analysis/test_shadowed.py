"""Shadowed and redundant rules: proved per option, never guessed."""

from __future__ import annotations

import ipaddress as ip

from nflens.analysis.audit import audit
from nflens.snapshot.read import read_snapshot

SAVE = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 20:30 -j DROP
-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -i eth+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i eth0 -m state --state ESTABLISHED -j ACCEPT
-A INPUT -s 192.168.0.0/16 -m recent --rcheck --name x -j DROP
-A INPUT -s 192.168.1.0/24 -j DROP
-A INPUT -s 172.16.0.0/12 ! -p udp -j ACCEPT
-A INPUT -s 172.16.1.0/24 -p tcp -j ACCEPT
COMMIT
"""


def _findings(tmp_path):
    (tmp_path / "iptables-save.txt").write_text(SAVE)
    return [f for f in audit(read_snapshot(tmp_path))["findings"] if f["id"] == "shadowed-rule"]


def test_shadowed_redundant_and_unprovable(tmp_path):
    found = {f["subject"].split(" INPUT ", 1)[1]: f for f in _findings(tmp_path)}
    shadowed = found["-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT"]
    assert shadowed["severity"] == "medium" and "never happens" in shadowed["explanation"]
    redundant = found["-A INPUT -i eth0 -m state --state ESTABLISHED -j ACCEPT"]
    assert redundant["severity"] == "low" and redundant["fix"] == "iptables -D INPUT 4"
    assert redundant["fix_verified"] is True
    # -m recent cannot be proved to cover anything: rule 6 is not called shadowed by it
    assert "-A INPUT -s 192.168.1.0/24 -j DROP" not in found
    # a negated protocol only covers the same negation
    assert "-A INPUT -s 172.16.1.0/24 -p tcp -j ACCEPT" not in found
    assert len(found) == 2


def test_prefix_containment_has_a_direction_and_a_family(tmp_path):
    """A wider prefix after a narrower one is not covered by it; an IPv6 prefix never covers
    an IPv4 one (the proof compares address intervals of one family)."""
    (tmp_path / "iptables-save.txt").write_text("""*filter
:INPUT DROP [0:0]
-A INPUT -s 10.1.0.0/16 -j DROP
-A INPUT -s 10.0.0.0/8 -j DROP
-A INPUT -s 10.2.3.4/32 -j DROP
COMMIT
""")
    found = [f["subject"].split(" INPUT ", 1)[1] for f in
             audit(read_snapshot(tmp_path))["findings"] if f["id"] == "shadowed-rule"]
    assert found == ["-A INPUT -s 10.2.3.4/32 -j DROP"]
    from nflens.analysis.findings.shadowed import _value, implies

    v4 = {("ip", "source"): (_value(ip.ip_network("0.0.0.0/0")), False)}
    v6 = {("ip", "source"): (_value(ip.ip_network("::/0")), False)}
    assert implies(v4, v4) and not implies(v4, v6) and not implies(v6, v4)
