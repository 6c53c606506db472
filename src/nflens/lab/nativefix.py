"""Apply what `nflens audit` printed as a manager-native fix, with the real manager, in a lab host.

Why: issue 13 wants the printed fix proven — typed as the admin would type it, with the real ufw
or firewalld, then reloaded, dockerd restarted and the host rebuilt. So nothing here knows the
rules: it reads the fix text (analysis/native.py's `shown`) and does what it says.

- ufw: the text says "# once: append a DOCKER-USER block to PATH ..." (the block follows, up to
  BLOCK_END), then "# then in that block, WHERE:" or "# in the DOCKER-USER block of PATH
  (...), WHERE:" with `-A DOCKER-USER ...` lines, then `ufw ...` commands. WHERE is "as its
  first lines", "before its last `-A DOCKER-USER -j RETURN`" or "right after its `-A
  DOCKER-USER -j ufw-user-forward`" (`ufw6-user-forward` in after6.rules, the IPv6 fixes:
  ufw's ip6tables chains are `ufw6-*`). Several findings' fixes go into the one block of their
  file: the block is appended once, and a line the block already holds is not added twice
  (each fix repeats the jump it needs). `ufw reload` runs once, after everything.
- firewalld: every `firewall-cmd` line is a command; `--reload` runs once, after everything.
`edit_after_rules` is pure (unit-tested without a lab); `apply` runs the commands in the host.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nflens.errors import ToolError

BLOCK_END = "# END NFLENS DOCKER-USER"
ONCE = re.compile(r"^# once: append a DOCKER-USER block to (\S+) ")
WHERE = re.compile(r"^# (?:then in that block|in the DOCKER-USER block of (\S+) \(.*?\)), "
                   r"(as its first lines|before its last `-A DOCKER-USER -j RETURN`|"
                   r"right after its `-A DOCKER-USER -j ufw6?-user-forward`):$")
JUMP = re.compile(r"`(-A DOCKER-USER -j ufw6?-user-forward)`")


@dataclass
class UfwFix:
    """One finding's ufw fix, parsed."""

    path: str = "/etc/ufw/after.rules"
    block: list[str] = field(default_factory=list)  # to append once (empty: the file has one)
    where: str = ""
    lines: list[str] = field(default_factory=list)  # `-A DOCKER-USER ...`
    commands: list[str] = field(default_factory=list)  # `ufw ...`


def parse_ufw(text: str) -> UfwFix:
    """The parts of a ufw fix text; a line this does not understand is an error (the point
    is that the printed text is complete and unambiguous)."""
    fix, state = UfwFix(), ""
    for raw in text.splitlines():
        line = raw.strip()
        m_once, m_where = ONCE.match(line), WHERE.match(line)
        if state == "block":
            fix.block.append(line)
            state = "" if line == BLOCK_END else state
        elif m_once:
            fix.path, state = m_once.group(1), "block"
        elif m_where:
            fix.path = m_where.group(1) or fix.path
            fix.where, state = m_where.group(2), "lines"
        elif line.startswith("-A DOCKER-USER ") and state == "lines":
            fix.lines.append(line)
        elif line.startswith("ufw "):
            fix.commands.append(line)
        elif line.startswith("#") or not line:
            state = ""
        else:
            raise ToolError(f"ufw fix: cannot place line {line!r}")
    if fix.lines and not fix.where:
        raise ToolError("ufw fix: DOCKER-USER lines without saying where in the block")
    return fix


def edit_after_rules(text: str, fix: UfwFix) -> str:
    """after.rules with the fix's block (once) and lines in it."""
    lines = text.splitlines()
    if fix.block and fix.block[0] not in lines:
        lines += fix.block
    decl = next((i for i, t in enumerate(lines) if t.strip().startswith(":DOCKER-USER")), None)
    if decl is None or not fix.lines:  # a block that holds every line (the merged script's)
        if fix.lines:
            raise ToolError(f"{fix.path}: no `:DOCKER-USER` block to put the lines in")
        return "\n".join(lines) + "\n"
    end = next(i for i in range(decl, len(lines)) if lines[i].strip() == "COMMIT")
    block = [t.strip() for t in lines[decl + 1:end]]
    new = [t for t in fix.lines if t not in block]
    if fix.where == "as its first lines":
        at = decl + 1
    elif fix.where.startswith("before its last"):
        returns = [i for i in range(decl + 1, end)
                   if lines[i].strip() == "-A DOCKER-USER -j RETURN"]
        at = returns[-1] if returns else end
    else:
        m = JUMP.search(fix.where)
        want = m.group(1) if m else ""
        jump = [i for i in range(decl + 1, end) if lines[i].strip() == want]
        if not jump:
            raise ToolError(f"{fix.path}: no `{want}` in the block")
        at = jump[0] + 1
    return "\n".join(lines[:at] + new + lines[at:]) + "\n"


Run = Callable[[str], str]


def apply_ufw(fixes: list[str], etc_dir: Path, run: Run) -> list[str]:
    """Apply ufw fix texts: edit the private after.rules under `etc_dir` (the host's /etc as
    the machine sees it), run the `ufw` commands in the host (`run`), `ufw reload` last.
    Returns the commands run, in order."""
    done: list[str] = []
    for text in fixes:
        fix = parse_ufw(text)
        path = etc_dir / Path(fix.path).relative_to("/etc")
        path.write_text(edit_after_rules(path.read_text(), fix))
        for cmd in fix.commands:
            if cmd != "ufw reload" and cmd not in done:
                run(cmd)
                done.append(cmd)
    run("ufw reload")
    return done + ["ufw reload"]


def apply_firewalld(fixes: list[str], run: Run) -> list[str]:
    """Run the fix texts' firewall-cmd commands in the host, `--reload` once, last."""
    done: list[str] = []
    for text in fixes:
        for line in (t.strip() for t in text.splitlines()):
            if line.startswith("firewall-cmd ") and line != "firewall-cmd --reload" \
                    and line not in done:
                run(line)
                done.append(line)
    run("firewall-cmd --reload")
    return done + ["firewall-cmd --reload"]


# -- the host's life after the fix: dockerd restart, reboot ---------------------------------
# At boot the manager comes up before dockerd (the order of their units): ufw's unit runs
# ufw-init, which loads the rules files when ufw.conf says ENABLED=yes; firewalld loads its
# permanent configuration (direct.xml included) by itself.
BOOT = {"ufw": ("/lib/ufw/ufw-init start",), "firewalld": ()}


def restart_dockerd(ctx, udp: dict[str, tuple[int, ...]] | None = None) -> None:
    """Stop dockerd (SIGTERM, as `systemctl restart docker`), start it again and start the
    containers again (they have no restart policy: dockerd stops them when it stops). `udp`:
    the UDP servers (lab/udp.py) to start again in each container's new network namespace."""
    import signal

    from nflens.lab import run
    from nflens.lab import udp as udp_mod

    d = ctx.docker
    d.client.close()
    d._client = None  # noqa: SLF001 - Dockerd.stop() would remove the containers
    d._proc.send_signal(signal.SIGTERM)  # noqa: SLF001
    d._proc.wait(30)  # noqa: SLF001
    d.start()
    for name in list(ctx.containers):
        container = d.client.containers.get(name)
        container.start()
        ctx.containers[name] = container
    for name, ports in (udp or {}).items():
        for port in ports:
            udp_mod.start_server(ctx.lab, ctx.containers[name], port, f"nflens:{name}")
    run._settle(ctx)  # noqa: SLF001


def save_etc(ctx, dest: Path) -> Path:
    """The host's private /etc copies (what a reboot keeps), saved outside the lab."""
    import shutil

    shutil.copytree(ctx.mounts.etc, dest, symlinks=True, dirs_exist_ok=True)
    return dest
