"""`nflens fleet audit` on a LocalCluster of 2 workers: each host gets exactly what a single
`nflens audit` gives it, a broken host is an error record, an unchanged host is not audited
again, and a worker killed mid-run changes no result."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from nflens.analysis.audit import audit
from nflens.cli.main import _register, app
from nflens.fleet.hosts import discover
from nflens.fleet.run import audit_fleet, dask_client
from nflens.fleet.store import Store
from nflens.snapshot.archive import write_tar
from nflens.snapshot.read import read_snapshot
from tests.conftest import REPO

LAB = REPO / "tests" / "fixtures" / "lab"
HOSTS = ("seed000_web2-broken", "seed001_input_bypass-broken", "seed001_input_bypass-fixed",
         "seed003_egress-broken", "seed004_dnat_port-broken", "seed004_dnat_port-fixed",
         "docker_options-icc-false", "internal_net-proxy")
TARRED, TARRED_FROM = "tarred", "seed000_web2-fixed"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    for name in HOSTS:
        shutil.copytree(LAB / name, root / name)
    (root / "broken").mkdir()
    (root / "broken" / "ip-addr.json").write_text("{")
    write_tar(LAB / TARRED_FROM, root / f"{TARRED}.tar.gz")  # a host sent as one file
    return root


@pytest.fixture(scope="module")
def single(root) -> dict[str, dict]:
    """What `nflens audit` says for each host, run alone."""
    out = {name: audit(read_snapshot(root / name)) for name in HOSTS}
    out[TARRED] = audit(read_snapshot(LAB / TARRED_FROM))
    return out


@pytest.fixture(scope="module")
def client():
    with dask_client(2, None) as c:
        yield c


def _same_as_single(records, single):
    by_host = {r["host"]: r for r in records}
    assert set(by_host) == set(HOSTS) | {"broken", TARRED}
    for name, expected in single.items():
        assert set(expected) <= set(by_host[name]), name  # every key a single audit gives
        assert {k: by_host[name][k] for k in expected} == expected, name


def test_every_host_gets_what_a_single_audit_gives_it(root, single, client):
    records, reused = audit_fleet(discover(root), Store(None), client)
    assert reused == 0
    _same_as_single(records, single)
    broken = next(r for r in records if r["host"] == "broken")
    assert "ip-addr.json" in broken["error"] and "exposure" not in broken


def test_an_unchanged_snapshot_is_not_audited_again_even_after_an_unfinished_run(
        root, single, client, tmp_path):
    audit_fleet(discover(root), Store(tmp_path), client)  # never finished: a partial file
    store = Store(tmp_path)
    seen: list[tuple[str, bool]] = []
    records, reused = audit_fleet(discover(root), store, client,
                                  lambda rec, cached: seen.append((rec["host"], cached)))
    assert reused == len(HOSTS) + 2 and all(cached for _, cached in seen)
    _same_as_single(records, single)


def test_a_changed_snapshot_is_audited_again(root, client, tmp_path):
    changed = tmp_path / "root"
    shutil.copytree(root, changed)
    out = tmp_path / "out"
    audit_fleet(discover(changed), Store(out), client)
    shutil.rmtree(changed / "seed004_dnat_port-broken")
    shutil.copytree(LAB / "seed004_dnat_port-fixed", changed / "seed004_dnat_port-broken")
    audited = []
    audit_fleet(discover(changed), Store(out), client,
                lambda rec, cached: cached or audited.append(rec["host"]))
    assert audited == ["seed004_dnat_port-broken"]


def test_a_worker_killed_mid_run_changes_no_result(root, single, client):
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(rec, cached):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    records, _ = audit_fleet(discover(root), Store(None), client, kill_a_busy_worker)
    assert killed, "no worker was busy when the first host finished: nothing was tested"
    _same_as_single(records, single)


def test_cli_json_has_the_contract_shape(root, single, tmp_path, capsys):
    _register()
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        app(["fleet", "audit", str(root), "--workers", "2", "--out", str(out), "--json",
             "--html", str(tmp_path / "fleet.html")], standalone_mode=True)
    assert exit_.value.code in (0, None)
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"hosts", "summary"}
    _same_as_single(doc["hosts"], single)
    assert (out / "hosts.jsonl").is_file() and (out / "summary.json").is_file()
    lines = (out / "hosts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["host"] for line in lines) == sorted(HOSTS + ("broken", TARRED))
    assert "seed001_input_bypass-broken" in (tmp_path / "fleet.html").read_text()


def test_scheduler_runs_the_fleet_on_an_existing_cluster(root, single, tmp_path, capsys):
    from distributed import LocalCluster

    _register()
    with (LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
          pytest.raises(SystemExit) as exit_):
        app(["fleet", "audit", str(root), "--scheduler", cluster.scheduler_address,
             "--json"], standalone_mode=True)
    assert exit_.value.code in (0, None)
    _same_as_single(json.loads(capsys.readouterr().out)["hosts"], single)


def test_an_unreachable_scheduler_is_a_clear_error(root, capsys):
    from nflens.errors import NflensError

    with (pytest.raises(NflensError, match="cannot reach the Dask scheduler"),
          dask_client(1, "tcp://127.0.0.1:9", timeout="2s")):
        pass
