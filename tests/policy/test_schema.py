"""Policy files: validation errors point at the line; YAML and TOML mean the same."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nflens.errors import ParseError
from nflens.policy.schema import load_policy
from tests.conftest import EXAMPLES, REPO


def _write(tmp_path, text: str, name: str = "p.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text,line,words", [
    ("version: 1\ninbound:\n  default: shut\n", 3, "open' or 'closed"),
    ("version: 1\negress:\n  - network: bridge\n    defualt: deny\n", 4, "defualt"),
    ("version: 1\ninbound:\n  ports:\n    - container: web\n      port: 8080\n"
     "      from: [office, 10.0.0.0/99]\n", 6, "neither a CIDR nor a group"),
    ("version: 1\ninbound:\n  ports:\n    - port: 80\n", 4, "exactly one of"),
    ("version: 1\ninbound:\n  ports:\n    - {container: web, port: 70000}\n", 4, "65535"),
    ("version: 2\n", 1, "version"),
    ("version: 1\nversion: 1\n", 2, "duplicate key"),
    ("version: 1\ninbound: [\n", 3, "not valid YAML"),
])
def test_error_names_the_line(tmp_path, text, line, words):
    with pytest.raises(ParseError) as err:
        load_policy(_write(tmp_path, text))
    assert err.value.line == line
    assert words in str(err.value)
    assert str(err.value).startswith(f"{tmp_path}/p.yaml:{line}: ")


def test_toml_error_names_the_line(tmp_path):
    text = 'version = 1\n\n[[egress]]\nnetwork = "bridge"\ndefault = "maybe"\n'
    with pytest.raises(ParseError) as err:
        load_policy(_write(tmp_path, text, "p.toml"))
    assert err.value.line == 5


def test_yaml_and_toml_examples_are_the_same_policy():
    a = load_policy(str(EXAMPLES / "policies" / "seed003-egress.yaml"))
    b = load_policy(str(EXAMPLES / "policies" / "seed003-egress.toml"))
    assert a == b


def test_every_example_policy_is_valid():
    files = sorted((EXAMPLES / "policies").glob("*.*"))
    assert len(files) >= 5
    for f in files:
        load_policy(str(f))


def test_cli_bad_policy_exits_2_with_file_line_and_no_traceback(tmp_path):
    bad = _write(tmp_path, "version: 1\nto_host:\n  - network: bridge\n    allow: [99999]\n")
    proc = subprocess.run([sys.executable, "-m", "nflens", "policy", "plan", bad, "--snapshot",
                           str(REPO / "tests/fixtures/lab/seed003_egress-none")],
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}:4: ")
    assert "Traceback" not in proc.stderr
