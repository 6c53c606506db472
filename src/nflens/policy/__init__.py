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
    conflicts.py statements an earlier statement already decides (they can never match)
    plan.py      compile + verify + conflicts + text diff: what `nflens policy plan` shows
    guard.py     the SSH session (SSH_CONNECTION) as a flow: would the change cut it?
    decide.py    may the plan be applied: the refusals, and what --force turns into warnings
    apply.py     the live edge: backup, journal (pending.json) and timer before the first
                 change, one transaction per step, undo on failure or signal
    settle.py    rollback (from whatever an apply or a crash left, step by step) and confirm
    target.py    the network namespace an apply changes: its identity and its lock
    state.py     the state directory: lock, durable JSON records; timer.py the rollback timer
    persist.py   the systemd unit bound to docker.service; watch.py re-applies on Docker events

Everything up to decide.py is pure (no process, no file except the policy being read), so it
is tested on snapshots; apply/settle run their tools through nflens.proc's ProcessRunner, so
their logic is tested with a FakeRunner, and against the real tools in lab namespaces.
"""
