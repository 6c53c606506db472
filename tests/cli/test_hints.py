"""Issue 29.10: errors that say what to write instead, and `-h` everywhere."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.inprocess import run_main

SNAP = EXAMPLES / "snapshot-example"
FROM = "eth1:198.51.100.2"


def _trace(*args: str):
    return run_main("trace", "--snapshot", SNAP, *args, "--json")


def test_a_regular_file_as_snapshot_says_so_without_tarfile_internals(tmp_path):
    run = run_main("audit", "--snapshot", SNAP / "flows.json")
    assert run.code == 2 and run.traceback is None
    assert run.err.startswith(f"{SNAP / 'flows.json'}: not a snapshot directory or tarball (")
    assert "ReadError" not in run.err and "gzip" not in run.err.split("(")[0]


def test_an_ipv6_to_without_brackets_gets_the_bracketed_spelling():
    run = _trace("--from", FROM, "--to", "2001:db8::1:8080/tcp")
    assert run.code == 2 and run.traceback is None
    assert "written in brackets: [2001:db8::1]:8080/tcp" in run.err


def test_a_container_name_in_to_is_its_address_when_it_exists():
    by_name = _trace("--from", FROM, "--to", "shop:80/tcp")
    by_addr = _trace("--from", FROM, "--to", "172.17.0.2:80/tcp")
    assert by_name.code == by_addr.code == 0, by_name.err
    a, b = json.loads(by_name.out), json.loads(by_addr.out)
    assert a["verdict"] == b["verdict"] and a["reason"] == b["reason"]
    run = _trace("--from", FROM, "--to", "shpo:80/tcp")
    assert run.code == 2 and run.traceback is None
    assert "'shpo' is neither an address nor a container of this snapshot (containers: " \
           "cache, shop)" in run.err


def test_icmp_takes_no_port_and_a_portless_icmp_is_accepted():
    run = _trace("--from", FROM, "--to", "198.51.100.1:8080/icmp")
    assert run.code == 2 and "icmp has no port: write 198.51.100.1/icmp" in run.err
    run = _trace("--from", FROM, "--to", "198.51.100.1/icmp")
    assert run.code == 0 and json.loads(run.out)["name"].endswith("/icmp"), run.err
    run = _trace("--from", FROM, "--to", "198.51.100.1/tcp")
    assert run.code == 2 and "tcp needs a port" in run.err


def test_a_bare_from_address_gets_the_interface_its_route_goes_out_of():
    bare = _trace("--from", "198.51.100.2", "--to", "198.51.100.1:8080/tcp")
    named = _trace("--from", FROM, "--to", "198.51.100.1:8080/tcp")
    assert bare.code == named.code and bare.traceback is None, bare.err
    assert "--from 198.51.100.2: arriving on eth1 (inferred" in bare.err
    assert json.loads(bare.out)["verdict"] == json.loads(named.out)["verdict"]


@pytest.mark.parametrize("src, why", [("8.8.8.8", "no route of the host covers it"),
                                      ("127.0.0.1", "it is one of the host's own addresses")])
def test_a_bare_from_address_without_an_interface_to_infer_lists_them(src, why):
    run = _trace("--from", src, "--to", "198.51.100.1:8080/tcp")
    assert run.code == 2 and run.traceback is None
    assert f"--from {src}: no ingress interface to infer ({why}); write IFACE:{src} with " \
           "one of: lo, eth0, eth1" in run.err


def _commands():
    from nflens.cli.main import _command, _register

    _register()

    def walk(cmd, path: tuple[str, ...]):
        yield path
        if hasattr(cmd, "commands"):  # a group (typer vendors click: no click.Group here)
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, path + (name,))

    return list(walk(_command(), ()))


def test_dash_h_is_help_on_every_command():
    commands = _commands()
    assert len(commands) > 20
    for path in commands:
        run = run_main(*path, "-h")
        assert run.code == 0 and "Usage:" in run.out, (path, run.err)
