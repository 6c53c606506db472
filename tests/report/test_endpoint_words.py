"""Words that claim no more than the snapshot shows (issue 29.12): where a connection ends is
"known: <file>" or "assumed: <why>", the same way in trace and audit. A host socket is in
ss.txt; a published container port is in docker inspect, but what listens inside the container
is not; a container port nobody published is assumed to listen, and said so once."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES
from tests.inprocess import LAB, run_main

EXAMPLE = EXAMPLES / "snapshot-example"


def _endpoint(to: str, frm: str = "eth0:10.99.0.2") -> str:
    run = run_main("trace", "--snapshot", EXAMPLE, "--from", frm, "--to", to)
    assert run.code in (0, 1), run.err
    (line,) = [x for x in run.out.splitlines() if ". endpoint " in x]
    return line


def test_a_host_socket_is_known_from_ss_txt():
    assert _endpoint("10.99.0.1:8000/tcp").endswith(
        "busybox on :::8000: listening (known: a listening socket in ss.txt)")


def test_a_published_port_is_known_but_its_listener_is_assumed():
    line = _endpoint("10.99.0.1:8080/tcp")
    assert "container shop 172.17.0.2:80/tcp: published (known: Docker publishes" in line
    assert "assumed: something listens on it inside the container" in line


def test_an_unpublished_port_is_assumed_and_said_once():
    line = _endpoint("172.17.0.2:81/tcp")
    assert "assumed listening (assumed: not published" in line
    out = json.loads(run_main("trace", "--snapshot", EXAMPLE, "--from", "eth0:10.99.0.2",
                              "--to", "172.17.0.2:81/tcp", "--json").out)
    said = [a for a in out.get("assumed", out.get("assumptions", []))
            if "assumed to listen on 81/tcp" in a]
    assert len(said) == 1, out.get("assumed")


def test_a_peer_off_the_host_is_assumed():
    line = _endpoint("198.51.100.2:80/tcp", frm="host")
    assert line.endswith("assumed to answer (assumed: a peer outside the host answers, which "
                         "the snapshot cannot show)")


def test_direct_container_access_claims_reachability_not_a_listener():
    out = json.loads(run_main("audit", "--snapshot", LAB / "seed001_input_bypass-broken",
                              "--json").out)
    (f,) = [f for f in out["findings"] if f["id"] == "direct-container-access"]
    assert "accepts connections" not in f["explanation"]
    assert f["explanation"].startswith("tcp/80 of web (172.17.0.2) is reachable at the network "
                                       "level straight from outside")
    assert "(nothing in the snapshot shows what listens in the container)" in f["explanation"]
