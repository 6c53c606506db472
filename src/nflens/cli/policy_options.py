"""Options shared by the `nflens policy` commands (a leaf module: the command modules import it,
it imports none of them)."""

from __future__ import annotations

import typer

DIALECT = typer.Option(None, "--dialect", help="iptables or nft (default: the host's)")
NETNS = typer.Option(None, "--netns", help="act in this network namespace (/run/netns/NAME)")
DOCKER_HOST = typer.Option(None, "--docker-host", envvar=["NFLENS_DOCKER_HOST", "DOCKER_HOST"],
                           help="Docker API address (unix:///run/docker.sock)")
STATE_DIR = typer.Option(None, "--state-dir", envvar="NFLENS_STATE_DIR",
                         help="backups, lock and pending apply (default /var/lib/nflens)")
ALLOW_MISSING = typer.Option(False, "--allow-missing", help="skip containers the policy names "
                             "that do not exist (default: an error)")
