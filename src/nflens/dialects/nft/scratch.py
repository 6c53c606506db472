"""Run the real `nft` in a throwaway network namespace: the only way to parse nft text exactly.

nft's grammar (scanner.l/parser_bison.y, variables, includes, symbolic constants) is only fully
known to nft itself, so `nft list ruleset` text is loaded with `nft -f` and listed back as JSON.
The load happens inside `unshare --net` (plus `--map-root-user` when not root): the namespace and
its ruleset vanish with the process, and rules never reach the host's own network namespace.
If unshare cannot create the namespace, the shell never runs: nothing is loaded anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from nflens.errors import ParseError, ToolError
from nflens.proc import LOCAL, ProcessRunner

TIMEOUT = 60
_NFT_ERROR = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>[\d-]+): Error: (?P<msg>.*)$", re.M)


def nft_binary() -> str:
    path = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft")
                                         if os.access(p, os.X_OK)), None)
    if path is None:
        raise ToolError("nft is not installed: it is needed to read nft text rulesets "
                        "(install the nftables package, or give `nft -j list ruleset` output)")
    return path


def _unshare() -> list[str]:
    path = shutil.which("unshare")
    if path is None:
        raise ToolError("unshare (util-linux) is not installed: nft text is loaded in a "
                        "throwaway network namespace, which needs it")
    return [path, "--net"] if os.geteuid() == 0 else [path, "--net", "--map-root-user"]


def load_and_list(script: str, file: str, json_input: bool = False,
                  runner: ProcessRunner = LOCAL) -> str:
    """Load `script` into a fresh netns with `nft [-j] -f`, return `nft -j list ruleset` output.

    nft's complaints become ParseError(file, line); a failure to create the namespace ToolError.
    """
    nft = nft_binary()
    with tempfile.TemporaryDirectory(prefix="nflens-nft-") as tmp:
        path = os.path.join(tmp, "ruleset.json" if json_input else "ruleset.nft")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(script)
        load = f'"{nft}" {"-j " if json_input else ""}-f "$1" && "{nft}" -j list ruleset'
        cmd = _unshare() + ["--", "/bin/sh", "-c", load, "sh", path]
        proc = runner.run(cmd, timeout=TIMEOUT, cwd=tmp)
        if proc.error is not None:
            raise ToolError(f"cannot run nft in a scratch namespace: {proc.error}")
        if proc.returncode != 0:
            raise _failure(proc.stderr, path, file)
        return proc.stdout


def _failure(stderr: str, path: str, file: str) -> Exception:
    if "unshare" in stderr and ("Operation not permitted" in stderr or "failed" in stderr):
        return ToolError("cannot create a scratch network namespace to load nft text "
                         f"(unshare: {stderr.strip().splitlines()[-1]}); run as root, allow "
                         "unprivileged user namespaces, or give `nft -j list ruleset` output")
    match = _NFT_ERROR.search(stderr)
    if match:
        msg = match.group("msg").strip()
        if match.group("file") != path:  # "internal:0:..." from JSON input, or an include
            return ParseError(f"nft: {msg} (at {match.group('file')}:{match.group('line')})",
                              file, None)
        return ParseError(f"nft: {msg} (column {match.group('col')})", file,
                          int(match.group("line")))
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    message = lines[0] if lines else "nft failed without a message"
    if "Operation not permitted" in stderr or "Permission denied" in stderr:
        return ToolError(f"nft could not load the ruleset in a scratch namespace: {message}")
    return ParseError(f"nft: {message}", file, None)
