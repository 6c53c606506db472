"""lab/podman_versions.py without root or network: the pins, the choice of a Debian revision,
a missing version named, the private apt's suites and apt's epoch file names."""

from __future__ import annotations

import pytest

from nflens.errors import NflensError
from nflens.lab import podman_versions, versions
from nflens.lab.podman import PodmanConfig, containers_conf
from nflens.proc import FakeRunner


def test_both_debian_podmans_are_pinned_with_their_netavark():
    assert podman_versions.get("4").netavark == "1.4.0"
    assert podman_versions.get("5.8.6").netavark == "1.17.2"
    assert podman_versions.get("podman5").key == "5"
    with pytest.raises(NflensError, match="the lab runs 4, 5"):
        podman_versions.get("3")


def test_a_version_not_in_the_cache_is_missing_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "CACHE", tmp_path)
    with pytest.raises(versions.VersionMissing, match=r"Podman 5\.8\.6 .* --fetch"):
        podman_versions.provide("5")


def test_private_apt_names_its_own_suites(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "mirror", lambda: "http://deb.example/debian")

    def script(call):
        if "update" in call.argv:
            (tmp_path / "lists" / "x_Packages.lz4").write_text("")
        return None

    apt = versions.PrivateApt(tmp_path, FakeRunner(script), podman_versions.SUITES)
    apt.update(lambda msg: None)
    assert (tmp_path / "sources.list").read_text().count(" main\n") == 2
    assert " bookworm main" in (tmp_path / "sources.list").read_text()


def test_a_download_with_an_epoch_is_found_under_apts_escaped_name(tmp_path):
    """apt-get writes `1:4.13-1` as `1%3a4.13-1` in the file name (failed before: 'wrote no
    .deb' for libsubid4)."""
    def script(call):
        if "download" in call.argv:
            (tmp_path / "debs" / "libsubid4_1%3a4.13+dfsg1-1_amd64.deb").write_text("deb")
        return None

    (tmp_path / "debs").mkdir()
    apt = versions.PrivateApt(tmp_path, FakeRunner(script))
    assert apt.download("libsubid4", "1:4.13+dfsg1-1").name.startswith("libsubid4_1%3a")


def test_containers_conf_names_the_driver_only_where_netavark_has_two(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "CACHE", tmp_path)
    for key in ("4", "5"):
        install = podman_versions.Install(podman_versions.get(key), tmp_path / key, {})
        conf = containers_conf(install, "nftables")
        assert ('firewall_driver = "nftables"' in conf) is (key == "5")
        assert 'network_backend = "netavark"' in conf and str(tmp_path / key) in conf
    assert PodmanConfig("5", "nftables").label == "5.8.6-nftables"
