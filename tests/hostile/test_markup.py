"""Issue 16.9: names and rule texts are printed literally (no rich markup, no raw control
characters) by every text renderer."""

from __future__ import annotations

import pytest

from nflens.literal import excerpt, printable
from tests.inprocess import edit_json, lab_copy, run_main

COMMENT = "[k8s] allow [bold]web see [/etc/nft.conf] :thumbs_up:"
NAME = "[/]shop\x1b]0;owned\x07"
DOCKER_RULE = ("-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80"
               " -j ACCEPT")


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # tables and traces do not wrap the texts looked for


@pytest.fixture
def hostile(tmp_path):
    snap = lab_copy(tmp_path)
    save = snap / "iptables-save.txt"
    save.write_text(save.read_text().replace(
        DOCKER_RULE,
        DOCKER_RULE.replace(" -j ACCEPT", f' -m comment --comment "{COMMENT}" -j ACCEPT'))
        .replace("-A INPUT -p icmp -j ACCEPT", "-A INPUT -i eth1 -p tcp -m tcp --dport 8000 "
                 f'-m comment --comment "{COMMENT}" -j DROP\n-A INPUT -p icmp -j ACCEPT'))
    ss = snap / "ss.txt"
    ss.write_text(ss.read_text().replace('"busybox"', '"[/]bb\x1b[2J"'))

    def rename(containers):
        containers[0]["Name"] = "/" + NAME
    edit_json(snap / "docker-containers.json", rename)

    def flows(data):
        data["flows"][0]["name"] = "[red]lan[/red]-web"
        for f in data["flows"]:
            if f["from"].get("container"):
                f["from"]["container"] = NAME
    edit_json(snap / "flows.json", flows)
    return snap


def _clean(run):
    assert run.traceback is None, run.traceback
    assert run.code in (0, 1), run.err
    assert "\x1b" not in run.out + run.err
    return run.out


def test_snapshot_show_prints_a_markup_container_name_and_process_literally(hostile):
    out = _clean(run_main("snapshot", "show", hostile))
    assert "[/]shop\\x1b]0;owned\\x07" in out
    assert "[/]bb\\x1b[2J" in out


def test_check_prints_the_deciding_rule_comment_as_written(hostile):
    out = _clean(run_main("check", "--snapshot", hostile, hostile / "flows.json"))
    assert "[k8s] allow [bold]web" in out  # wan-hostsvc, denied by that rule
    assert "[red]lan[/red]-web" in out


def test_trace_shows_the_rule_text_the_user_wrote(hostile):
    out = _clean(run_main("trace", "--snapshot", hostile, "--from", "eth0:10.99.0.2",
                          "--to", "10.99.0.1:8080/tcp"))
    assert COMMENT in out


def test_audit_prints_process_and_rule_texts_literally(hostile):
    out = _clean(run_main("audit", "--snapshot", hostile, "--no-verify"))
    assert "[/]bb\\x1b[2J" in out


def test_rules_prints_chain_names_literally(tmp_path):
    dump = tmp_path / "rules.txt"
    dump.write_text("*filter\n:INPUT ACCEPT [0:0]\n:[/]x\x1b[31m - [0:0]\n"
                    "-A INPUT -j [/]x\x1b[31m\nCOMMIT\n")
    out = _clean(run_main("rules", dump))
    assert "[/]x\\x1b[31m" in out


def test_an_error_message_never_carries_raw_control_characters(tmp_path):
    snap = lab_copy(tmp_path)
    (snap / "ss.txt").write_text("\x1b[2Jgarbage here\n")
    run = run_main("snapshot", "show", snap)
    assert run.code == 2 and "\x1b" not in run.err and "\\x1b[2J" in run.err


@pytest.mark.parametrize("raw, shown", [
    ("plain [bold]", "plain [bold]"), ("a\x1bb", "a\\x1bb"), ("tab\there", "tab\\there"),
    ("rtl\u202eoverride", "rtl\\u202eoverride"), ("zero\u200bwidth", "zero\\u200bwidth"),
    ("caf\u00e9 \u00a0ok", "caf\u00e9 \u00a0ok"), ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
])
def test_printable_escapes_control_and_format_characters_only(raw, shown):
    assert printable(raw) == shown


def test_an_excerpt_is_short_and_escaped():
    assert excerpt("x" * 100) == "'" + "x" * 48 + "…'"
    assert excerpt("\x1b'q") == "'\\x1b\\'q'"
