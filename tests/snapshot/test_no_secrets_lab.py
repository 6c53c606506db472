"""Issue 29.3 on a real dockerd: a container started with `-e POSTGRES_PASSWORD=...` and a
secret on its command line; `collect()` and the shell script (run inside the lab host's
namespace) write neither, and the containers read back equal those of the whole `docker
inspect` output (nothing the analysis reads was left out by the template)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nflens.lab import versions
from nflens.lab.netns import Lab, leftovers, nsenter
from nflens.snapshot.collect import collect
from nflens.snapshot.read import read_snapshot
from nflens.snapshot.script import render

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300),
              pytest.mark.skipif(shutil.which("dockerd") is None or shutil.which("docker") is None,
                                 reason="needs dockerd and the docker CLI")]

SECRET = "hunter2-lab-secret"


def _no_secret(root) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert '"Env"' not in (root / "docker-containers.json").read_text()


@pytest.mark.parametrize("docker", ["20", "28"])
def test_no_environment_value_in_a_snapshot_of_a_real_dockerd(tmp_path, docker):
    from nflens.lab import run
    from nflens.lab.scenarios import load

    why = versions.available().get(docker)
    if why:
        pytest.skip(why)
    sc = load("seed001")
    with Lab() as lab:
        ctx = run.build(lab, sc, sc.variant("broken"), docker=docker)
        try:
            ctx.docker.client.containers.run(
                ctx.docker.build_image(),
                name="db", command=["sh", "-c", f"sleep 600 # --token={SECRET}"], detach=True,
                environment={"POSTGRES_PASSWORD": SECRET}, labels={"app": "db"},
                ports={"5432/tcp": 5432})
            url = ctx.docker.url
            collect(tmp_path / "collect", netns=ctx.host, docker_host=url,
                    persist_root=tmp_path, daemon_json=tmp_path / "none.json")
            script = tmp_path / "collect.sh"
            script.write_text(render())
            proc = subprocess.run(nsenter(ctx.host, ["sh", str(script), "--docker-host", url,
                                                     "--root", str(tmp_path),
                                                     str(tmp_path / "script")]),
                                  capture_output=True, text=True, timeout=240)
            assert proc.returncode == 0, proc.stderr
            whole = subprocess.run(["docker", "-H", url, "inspect", "db", *(
                c.id for c in ctx.docker.client.containers.list(all=True) if c.name != "db")],
                capture_output=True, text=True, timeout=60, check=True).stdout
        finally:
            ctx.docker.stop()
        lab_id = lab.id
    assert leftovers(lab_id) == []
    assert SECRET in whole  # docker inspect itself has it: the template is what drops it
    for snap in (tmp_path / "collect", tmp_path / "script"):
        _no_secret(snap)
    assert (tmp_path / "script" / "docker-containers.json").read_bytes() == \
        (tmp_path / "collect" / "docker-containers.json").read_bytes()
    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / "docker-containers.json").write_text(whole)
    kept = read_snapshot(tmp_path / "collect").docker.containers
    by_id = {c.id: c for c in read_snapshot(tmp_path / "whole").docker.containers}
    assert sorted(c.id for c in kept) == sorted(by_id)
    for c in kept:
        assert c == by_id[c.id], c.name
    db = next(c for c in kept if c.name == "db")
    assert db.labels == (("app", "db"),) and {p.host_port for p in db.ports} == {5432}
