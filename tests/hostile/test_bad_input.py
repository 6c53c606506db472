"""Issue 16.10 and 16.12: malformed snapshot files, flows, policies and --ipassmt files are
`FILE:LINE: message` and exit 2, never a traceback and never a silent guess."""

from __future__ import annotations

import json

import pytest

from tests.inprocess import edit_json, lab_copy, run_main


def _set(index, key, value):
    return lambda data: data[index].__setitem__(key, value)


SNAPSHOT_CASES = {  # name: (file, edit of its JSON or its new text, what the error says)
    "route dst 5": ("ip-route.json", _set(0, "dst", 5),
                    "entry #1: dst: Input should be a valid string"),
    "route protocol dict": ("ip-route.json", _set(0, "protocol", {}), "protocol:"),
    "route scope dict": ("ip-route.json", _set(0, "scope", {"x": 1}), "scope:"),
    "route type dict": ("ip-route.json", _set(0, "type", {}),
                        "type: Input should be a valid string"),
    "route metric Infinity": ("ip-route.json", '[{"dst": "10.0.0.0/8", "metric": Infinity}]',
                              "Infinity is not a JSON number"),
    "route metric 1e999": ("ip-route.json", '[{"dst": "10.0.0.0/8", "metric": 1e999}]',
                           "1e999 is not a JSON number"),
    "addr addr_info x": ("ip-addr.json", _set(0, "addr_info", ["x"]),
                         "addr_info.0: Input should be a valid dictionary"),
    "addr ifindex x": ("ip-addr.json", _set(0, "ifindex", "x"),
                       "ifindex: Input should be a valid integer"),
    "link linkinfo x": ("ip-link.json", _set(0, "linkinfo", "x"),
                        "linkinfo: Input should be a valid dictionary"),
    "rule priority list": ("ip-rule.json", _set(0, "priority", [1]), "priority:"),
    "container labels list": ("docker-containers.json", _set(0, "Config", {"Labels": [1]}),
                              "entry #1 ('/web'): Config.Labels: "
                              "Input should be a valid dictionary"),
    "container pid text": ("docker-containers.json", _set(0, "State", {"Pid": "x"}),
                           "State.Pid: Input should be a valid integer"),
    "network options list": ("docker-networks.json", _set(0, "Options", ["x"]),
                             "Options: Input should be a valid dictionary"),
    "deep ip-addr": ("ip-addr.json", "[" * 50000 + "]" * 50000, "nested too deeply"),
    "deep containers": ("docker-containers.json", "[" * 50000 + "]" * 50000, "nested too deeply"),
    "deep networks 300": ("docker-networks.json", "[" * 300 + "]" * 300, "nested too deeply"),
    "deep nft": ("nft.json", '{"nftables": ' + "[" * 50000 + "]" * 50000 + "}",
                 "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(SNAPSHOT_CASES))
def test_a_malformed_snapshot_json_is_file_line_message_and_exit_2(tmp_path, case):
    name, change, needle = SNAPSHOT_CASES[case]
    snap = lab_copy(tmp_path)
    if isinstance(change, str):
        (snap / name).write_text(change)
    else:
        edit_json(snap / name, change)
    for cmd in (["snapshot", "show", snap], ["audit", "--snapshot", snap, "--no-verify"],
                ["check", "--snapshot", snap, snap / "flows.json"]):
        run = run_main(*cmd)
        assert run.traceback is None, run.traceback
        assert run.code == 2
        assert run.err.startswith(f"{snap / name}:1: "), run.err
        assert needle in run.err


def test_the_line_of_a_wrong_entry_in_a_pretty_printed_file_is_its_own(tmp_path):
    snap = lab_copy(tmp_path)
    routes = json.loads((snap / "ip-route.json").read_text())
    routes[2]["dst"] = 5
    (snap / "ip-route.json").write_text(json.dumps(routes, indent=1))
    run = run_main("snapshot", "show", snap)
    text = (snap / "ip-route.json").read_text().splitlines()
    line = int(run.err.split(":")[1])
    assert run.code == 2 and "entry #3" in run.err
    assert text[line - 1].strip() == "{" and '"dst": 5' in "\n".join(text[line - 1:line + 3])


def test_an_nft_counter_of_infinity_is_an_error(tmp_path):
    snap = lab_copy(tmp_path)
    nft = snap / "nft.json"
    doc = json.loads(nft.read_text())
    doc["nftables"].append({"rule": {"family": "ip", "table": "x", "chain": "y", "handle": 9,
                                     "expr": [{"counter": {"packets": 1, "bytes": 2}}]}})
    nft.write_text(json.dumps(doc).replace('"packets": 1', '"packets": Infinity'))
    run = run_main("snapshot", "show", snap)
    assert run.traceback is None and run.code == 2
    assert "nft.json:1: not valid JSON: Infinity is not a JSON number" in run.err


def _flows(tmp_path, flow=None, text=None):
    path = tmp_path / "flows.json"
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    else:
        path.write_text(json.dumps({"flows": [flow]}, indent=1))
    return path


def _flow(**src):
    return {"name": "f", "from": {"iface": "eth0", "src": "10.99.0.2", **src},
            "to": {"addr": "10.99.0.1", "port": 8080, "proto": "tcp"}}


@pytest.mark.parametrize("sport", ["abc", [1], {}, -1, 0, 99999, 1.5, True, None])
def test_a_flow_sport_that_is_not_a_port_is_an_error(tmp_path, sport):
    snap = lab_copy(tmp_path)
    flow = _flow(sport=sport)
    if sport is None:  # sport: null is "not given"
        run = run_main("check", "--snapshot", snap, _flows(tmp_path, flow))
        assert run.code == 0, run.err
        return
    run = run_main("check", "--snapshot", snap, _flows(tmp_path, flow))
    assert run.traceback is None and run.code == 2
    assert run.err.startswith(f"{tmp_path / 'flows.json'}:4: flow #1: sport must be a number "
                              f"from 1 to 65535, not {json.dumps(sport)}"), run.err


def test_a_flow_port_of_true_is_not_port_1(tmp_path):
    snap = lab_copy(tmp_path)
    flow = _flow()
    flow["to"]["port"] = True
    run = run_main("check", "--snapshot", snap, _flows(tmp_path, flow))
    assert run.code == 2 and "port must be a number from 1 to 65535, not true" in run.err


def test_a_flow_without_a_name_still_gets_its_line(tmp_path):
    snap = lab_copy(tmp_path)
    flows = {"flows": [_flow(), _flow(sport="x")]}
    for f in flows["flows"]:
        f.pop("name")
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(flows, indent=1))
    run = run_main("check", "--snapshot", snap, path)
    line = int(run.err.split(":")[1])
    assert run.code == 2 and path.read_text().splitlines()[line - 1].strip() == "{"
    assert line > 3


@pytest.mark.parametrize("text, needle", [
    (b'{"flows": []}\n\xff\xfe', ":2: not UTF-8 text"),
    ('{"flows": ' + "[" * 50000 + "]" * 50000 + "}", ":1: invalid JSON: nested too deeply"),
    ("flows:\n" + "- " * 1 + "[" * 50000 + "]" * 50000, "nested too deeply"),
    ('{"flows": [{"name": NaN}]}', ":1: invalid JSON: NaN is not a JSON number"),
])
def test_a_flows_file_that_cannot_be_decoded_is_an_error(tmp_path, text, needle):
    snap = lab_copy(tmp_path)
    run = run_main("check", "--snapshot", snap, _flows(tmp_path, text=text))
    assert run.traceback is None, run.traceback
    assert run.code == 2 and needle in run.err


def test_an_unknown_from_interface_is_an_error_not_deny(tmp_path):
    snap = lab_copy(tmp_path)
    run = run_main("trace", "--snapshot", snap, "--from", "eth9:10.99.0.2",
                   "--to", "10.99.0.1:8080/tcp")
    assert run.code == 2 and "unknown interface 'eth9' (interfaces: lo, eth0" in run.err
    flow = _flow()
    flow["from"]["iface"] = "eth9"
    run = run_main("check", "--snapshot", snap, _flows(tmp_path, flow))
    assert run.code == 2 and "flow 'f': unknown interface 'eth9'" in run.err


@pytest.mark.parametrize("to", ["10.99.0.1:\u0668\u0660\u0668\u0660/tcp", "10.99.0.1:８０/tcp",
                                "10.99.0.1:80/tcp\u0301"])
def test_non_ascii_digits_in_to_are_refused(tmp_path, to):
    snap = lab_copy(tmp_path)
    run = run_main("trace", "--snapshot", snap, "--from", "eth0:10.99.0.2", "--to", to)
    assert run.traceback is None and run.code == 2 and "expected ADDR:PORT/PROTO" in run.err


def test_a_quote_in_a_process_name_keeps_the_name(tmp_path):
    from nflens.snapshot.hostfiles import sockets

    (s,) = sockets('tcp LISTEN 0 5 0.0.0.0:22 0.0.0.0:* users:(("ss"hd",pid=7,fd=3))\n', "ss.txt")
    assert (s.process, s.pid) == ('ss"hd', 7)


def _policy(tmp_path, text: str | bytes):
    p = tmp_path / "policy.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_a_policy_port_of_true_is_an_error_not_port_1(tmp_path):
    snap = lab_copy(tmp_path)
    p = _policy(tmp_path, "version: 1\ninbound:\n  ports:\n    - {container: web, port: true}\n")
    run = run_main("policy", "plan", p, "--snapshot", snap)
    assert run.traceback is None and run.code == 2
    assert f"{p}:4: inbound.ports.0.port: true is not a port" in run.err
    p = _policy(tmp_path, "version: 1\nto_host:\n  - {network: bridge, allow: [true]}\n")
    run = run_main("policy", "plan", p, "--snapshot", snap)
    assert run.code == 2 and "is not a port" in run.err


def test_an_unknown_container_in_a_policy_is_an_error_unless_allowed(tmp_path):
    snap = lab_copy(tmp_path)
    p = _policy(tmp_path, "version: 1\ninbound:\n  ports:\n    - {container: wbe, port: 8080}\n")
    run = run_main("policy", "plan", p, "--snapshot", snap)
    assert run.code == 2 and "container wbe: no such container on this host" in run.err
    run = run_main("policy", "plan", p, "--snapshot", snap, "--allow-missing")
    assert run.code in (0, 1) and run.traceback is None
    assert "container wbe" in run.out


@pytest.mark.parametrize("text, needle", [
    (b"version: 1\n\xff\n", ":2: not UTF-8 text"),
    ("version: 1\ngroups: " + "[" * 50000 + "]" * 50000 + "\n", "nested too deeply"),
])
def test_a_policy_file_that_cannot_be_decoded_is_an_error(tmp_path, text, needle):
    snap = lab_copy(tmp_path)
    run = run_main("policy", "plan", _policy(tmp_path, text), "--snapshot", snap)
    assert run.traceback is None, run.traceback
    assert run.code == 2 and needle in run.err


def test_an_ipassmt_file_that_is_not_utf8_is_an_error(tmp_path):
    snap = lab_copy(tmp_path)
    bad = tmp_path / "ipassmt"
    bad.write_bytes(b"eth0 = [10.0.0.0/8]\n\xff\n")
    run = run_main("matrix", snap / "iptables-save.txt", "--dport", "22", "--ipassmt", bad)
    assert run.traceback is None and run.code == 2 and f"{bad}:2: not UTF-8 text" in run.err


def test_3000_nested_chains_in_matrix_are_an_error_not_a_recursion_error(tmp_path):
    n = 3000
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [f":C{i} - [0:0]" for i in range(n)] + ["-A FORWARD -j C0"]
    lines += [f"-A C{i} -j C{i + 1}" for i in range(n - 1)] + ["COMMIT"]
    dump = tmp_path / "deep.txt"
    dump.write_text("\n".join(lines) + "\n")
    run = run_main("matrix", dump, "--dport", "22")
    assert run.traceback is None, run.traceback
    assert run.code == 2 and "nested more than 64 deep" in run.err


def _gzip_of_zeros(path, mib: int):
    import zlib

    z = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip header
    block = bytes(1 << 20)
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(z.compress(block))
        out.write(z.flush())
    return path


def test_a_gzip_of_zeros_is_not_an_empty_snapshot(tmp_path):
    """Issue 29.13: `head -c 1G /dev/zero | gzip` named .tar.gz read as a snapshot with 0 files
    (exit 0, a clean audit). tar stops at the first zero block: an empty archive is refused."""
    bomb = _gzip_of_zeros(tmp_path / "zeros.tar.gz", 64)
    for cmd in (["snapshot", "show", bomb], ["audit", "--snapshot", bomb, "--no-verify"]):
        run = run_main(*cmd)
        assert run.traceback is None and run.code == 2, run.out
        assert run.err.startswith(f"{bomb}: not a snapshot directory or tarball (a tarball "
                                  "with no file in it)"), run.err


def test_a_huge_tar_header_is_cut_off_at_the_stream_limit(tmp_path, monkeypatch):
    """A GNU long-name header says how long the name is, and tarfile reads it whole into
    memory: a 'name' of 1 GiB passed every member limit. The decompressed stream is bounded."""
    import gzip
    import tarfile

    from nflens.snapshot import archive

    monkeypatch.setattr(archive, "MAX_STREAM_BYTES", 1 << 20)
    head = tarfile.TarInfo("././@LongLink")
    head.type, head.size = tarfile.GNUTYPE_LONGNAME, 8 << 20
    bomb = tmp_path / "longname.tar.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(head.tobuf(format=tarfile.GNU_FORMAT))
        for _ in range(9):
            out.write(b"a" * (1 << 20))
    run = run_main("snapshot", "show", bomb)
    assert run.traceback is None and run.code == 2
    assert f"{bomb}: decompresses to more than 1048576 bytes" in run.err


def _every_reader(snap):
    return (["snapshot", "show", snap], ["audit", "--snapshot", snap, "--no-verify"],
            ["check", "--snapshot", snap, snap / "flows.json"],
            ["trace", "--snapshot", snap, "--from", "eth0:10.99.0.2", "--to",
             "10.99.0.1:8080/tcp"])


def test_a_non_utf8_nft_json_is_refused_by_every_reader_as_rules_refuses_it(tmp_path):
    """Issue 29.13: `rules nft.json` said `not UTF-8 text`; show/check/trace/audit read it with
    U+FFFD in place, exit 0."""
    snap = lab_copy(tmp_path)
    raw = (snap / "nft.json").read_bytes()
    at = raw.index(b'"Lester')
    (snap / "nft.json").write_bytes(raw[:at + 1] + b"\xff" + raw[at + 1:])
    want = f"{snap / 'nft.json'}:1: not UTF-8 text (byte 0xff)"
    assert want in run_main("rules", snap / "nft.json").err
    for cmd in _every_reader(snap):
        run = run_main(*cmd)
        assert run.traceback is None and run.code == 2, (cmd, run.out[-300:])
        assert run.err.startswith(want), run.err


def test_an_iptables_save_without_commit_is_refused_by_every_reader(tmp_path):
    snap = lab_copy(tmp_path)
    text = (snap / "iptables-save.txt").read_text()
    head, _, tail = text.rpartition("COMMIT\n")  # the last table's COMMIT gone
    (snap / "iptables-save.txt").write_text(head + tail)
    for cmd in _every_reader(snap):
        run = run_main(*cmd)
        assert run.traceback is None and run.code == 2, (cmd, run.out[-300:])
        assert run.err.startswith(f"{snap / 'iptables-save.txt'}:"), run.err
        assert "has no COMMIT (iptables-restore refuses it" in run.err


LONG = "C" * 100_000


def _long_chain(snap, how):
    save = snap / "iptables-save.txt"
    text = save.read_text()
    decl = ":OUTPUT ACCEPT [0:0]\n"
    if how == "undeclared":
        save.write_text(text.replace(decl, f"{decl}-A {LONG} -j ACCEPT\n", 1))
    elif how == "loop":
        save.write_text(text.replace(decl, f"{decl}:{LONG} - [0:0]\n-A INPUT -j {LONG}\n"
                                     f"-A {LONG} -j {LONG}\n", 1))
    else:
        nft = json.loads((snap / "nft.json").read_text())
        nft["nftables"].append({"rule": {"family": "ip", "table": "nat", "chain": LONG,
                                         "expr": [{"accept": None}]}})
        (snap / "nft.json").write_text(json.dumps(nft))


@pytest.mark.parametrize("how", ["undeclared", "loop", "nft"])
def test_a_100000_character_chain_name_is_cut_in_the_error(tmp_path, how):
    """Issue 29.13: the name was echoed whole, a 100 KB (a jump loop: 200 KB) error line."""
    snap = lab_copy(tmp_path)
    _long_chain(snap, how)
    run = run_main("audit", "--snapshot", snap, "--no-verify")
    assert run.traceback is None and run.code == 2
    assert len(run.err) < 1000, len(run.err)
    assert "C" * 80 + "…" in run.err and "C" * 81 not in run.err


def test_a_message_with_an_uncut_name_is_still_bounded():
    from nflens.literal import bounded

    out = bounded(f"x.txt:1: something about {LONG} here")
    assert out.startswith("x.txt:1: something about " + "C" * 80 + "…(100000 characters)")
    assert out.endswith(" here") and len(out) < 200


def test_a_container_name_with_a_newline_is_escaped_in_errors(tmp_path):
    snap = lab_copy(tmp_path)
    edit_json(snap / "docker-containers.json", _set(0, "Name", "/we\nFAKE: b"))
    run = run_main("trace", "--snapshot", snap, "--from", "container:nosuch", "--to",
                   "10.99.0.1:8080/tcp")
    assert run.traceback is None and run.code == 2
    assert "unknown container 'nosuch' (known: we\\nFAKE: b)" in run.err
    assert "\nFAKE" not in run.err
    pol = tmp_path / "policy.yaml"
    pol.write_text("version: 1\ninbound:\n  ports:\n    - {container: wbe, port: 8080}\n")
    run = run_main("policy", "plan", pol, "--snapshot", snap)
    assert run.code == 2 and "(containers: we\\nFAKE: b)" in run.err, run.err
