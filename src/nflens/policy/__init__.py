"""Declarative policy: the user's intent, compiled to iptables or nftables, verified, applied.

    schema.py    the policy file (YAML/TOML) as pydantic models; errors say FILE:LINE
    loader.py    YAML/TOML -> plain data plus the line of every key (pydantic reports paths)
    resolve.py   the user's terms (container names, labels, host or container ports, groups)
                 -> concrete addresses, bridges and port bindings of one snapshot Host
    model.py     the compiled rules as plain data (one small rule shape for both dialects)
    compile.py   statements -> rules; iptables.py / nft.py render them for their dialect and
                 merge them into a Host so the simulator can run the result
    verify.py    flows derived from the host, simulated before and after: every statement
                 holds, and every flow whose verdict changed is one a statement speaks about
    plan.py      compile + verify + text diff: what `nflens policy plan` shows
    apply.py     the live edge: backup, lock, one atomic transaction, confirm-or-rollback timer
    persist.py   the systemd unit bound to docker.service; watch.py re-applies on Docker events

Everything up to plan.py is pure (no process, no file except the policy being read), so it is
tested on snapshots; apply/persist/watch are tested in scratch network namespaces.
"""
