"""`nflens lab list|run|versions` and the Docker versions (CONTRACT §5: `lab run --docker
20|26|28`), without root: what each scenario runs on, an unknown version refused up front."""

from __future__ import annotations

import json

from tests.cli.test_rules_cli import nflens


def test_lab_list_names_the_versions_each_scenario_runs_on():
    run = nflens("lab", "list", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [d["version"] for d in out["docker"]] == ["20.10.24", "26.1.5", "28.5.2"]
    assert all(d["available"] == (d["missing"] is None) for d in out["docker"])
    runs_on = {s["name"]: tuple(s["docker"]) for s in out["scenarios"]}
    # ufw_ipv6 needs DOCKER-USER in ip6tables, which only Docker 28 writes by default.
    assert runs_on.pop("ufw_ipv6") == ("28.5.2",)
    # nat-unprotected, one of the two gateway modes gateway_modes probes, is new in Docker 28.
    assert runs_on.pop("gateway_modes") == ("28.5.2",)
    assert runs_on.pop("gw_priority") == ("28.5.2",)  # --gw-priority is new in Docker 28
    assert set(runs_on.values()) == {("20.10.24", "26.1.5", "28.5.2")}
    text = nflens("lab", "list").stdout
    assert "seed001_input_bypass: published port bypasses INPUT (Docker 20.10.24, 26.1.5, " \
           "28.5.2)" in text
    assert "--docker 28: Docker 28.5.2" in text


def test_lab_run_refuses_an_unknown_docker_version_before_anything_else():
    run = nflens("lab", "run", "seed001", "--docker", "27")
    assert run.returncode == 2
    assert run.stderr.strip() == "unknown Docker version '27'; the lab runs 20, 26, 28"


def test_lab_versions_says_what_is_ready_or_missing():
    run = nflens("lab", "versions", "--json")
    rows = json.loads(run.stdout)["docker"]
    assert [r["key"] for r in rows] == ["20", "26", "28"]
    assert run.returncode == (1 if any(r["missing"] for r in rows) else 0)
    for r in rows:
        if r["missing"]:
            assert f"Docker {r['version']}" in r["missing"]
        elif r["key"] != "20":
            assert r["dir"] == f"/var/cache/nflens-lab/docker/{r['version']}"
            assert r["packages"]["docker.io"].startswith(r["version"] + "+")
