"""lab/nftfix.py: a printed nft fix is run as printed, `sh -e`, after its shape is checked."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from nflens.errors import ToolError
from nflens.lab import nftfix

FIX = """# tcp/0.0.0.0:8080 -> web:80 is open to every source: drop it before Docker's accept
# (in a table of nflens's own, forward hook, priority filter - 1)
nft -f - <<'EOF'
table inet nflens {
	chain forward {
		type filter hook forward priority filter - 1; policy accept;
		ct status dnat meta l4proto tcp ct original proto-dst 8080 drop
	}
}
EOF
# keep it across reboots
grep -q 'nflens.nft' /etc/nftables.conf || echo 'include "/etc/nflens.nft"' >> /etc/nftables.conf
"""


def test_the_contract_form_parses_into_commands_and_one_nft_script():
    fix = nftfix.parse(FIX)
    assert fix.nft.startswith("table inet nflens {") and fix.nft.rstrip().endswith("}")
    assert "ct original proto-dst 8080 drop" in fix.nft
    assert fix.commands == [FIX.splitlines()[-1]]
    assert nftfix.is_nft_fix(FIX) and not nftfix.is_nft_fix("iptables -I DOCKER-USER -j DROP")


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_the_contract_form_is_valid_posix_shell():
    assert subprocess.run(["sh", "-n"], input=FIX, text=True).returncode == 0


@pytest.mark.parametrize("text,what", [
    ("nft -f - <<'EOF'\ntable inet nflens {}\n", "not closed"),
    ("nft -f - <<'EOF'\ntable inet a {}\nEOF\nnft -f - <<'EOF'\ntable inet b {}\nEOF\n",
     "second nft here-document"),
    ("cat > /etc/x <<'EOF'\nx\nEOF\n", "not `nft -f - <<'EOF'`"),
    ("nft -f -\n", "standard input outside the here-document"),
    ("nft -c -f - < /tmp/fix.nft\n", "standard input outside the here-document"),
    ("# only words\n\n", "no command"),
])
def test_a_text_outside_the_contract_is_refused_with_why(text, what):
    with pytest.raises(ToolError, match=re.escape(what)):
        nftfix.parse(text)


def test_a_command_reading_a_file_is_a_command():
    assert nftfix.parse("nft -c -f /etc/nftables.conf\n").commands == [
        "nft -c -f /etc/nftables.conf"]


def test_a_delimiter_inside_the_script_does_not_end_it():
    text = "nft -f - <<'EOF'\ntable inet nflens { comment \"EOF\" }\n  EOF\nEOF\n"
    assert nftfix.parse(text).nft == "table inet nflens { comment \"EOF\" }\n  EOF\n"


def test_apply_checks_every_text_first_then_runs_each_distinct_one_once(tmp_path):
    ran: list[str] = []
    other = "nft add table inet nflens\n"
    done = nftfix.apply([FIX, other, FIX], tmp_path, lambda p: ran.append(p.read_text()) or "")
    assert ran == [FIX, other] and [p.name for p in done] == ["fix-1.sh", "fix-2.sh"]
    ran.clear()
    with pytest.raises(ToolError):
        nftfix.apply([FIX, "nft -f - <<'EOF'\n"], tmp_path, lambda p: ran.append(p.name) or "")
    assert ran == []  # nothing ran: the second text was refused before the first ran
