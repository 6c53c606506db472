"""Container and network references resolve as Docker resolves them: full ID, then exact name,
then a unique ID prefix (daemon/container.go GetContainer, daemon/network.go FindNetwork); an
ambiguous reference is an error naming the candidates, never the first one in list order."""

from __future__ import annotations

import pytest

from nflens.errors import AmbiguousReference, NflensError
from nflens.ir.host import Container, DockerState, Network

B353 = Container("b1f00d" + "0" * 58, "b353")
B1 = Container("9c9c" + "1" * 60, "b1")
OTHER = Container("b1e2" + "2" * 60, "db")


def test_an_exact_name_wins_over_an_earlier_id_prefix():
    # the real host: b353 (ID b1f00d...) listed before the container named b1
    docker = DockerState(containers=(B353, B1, OTHER))
    assert docker.container("b1") is B1
    assert docker.container("/b1") is B1


def test_a_full_id_wins_over_a_name():
    named_like_an_id = Container("aa" * 32, B353.id)
    docker = DockerState(containers=(named_like_an_id, B353))
    assert docker.container(B353.id) is B353


def test_a_unique_id_prefix_resolves():
    docker = DockerState(containers=(B353, B1, OTHER))
    assert docker.container("b1f") is B353
    assert docker.container("9c9c") is B1
    assert docker.container("ffff") is None
    assert docker.container("") is None


def test_an_ambiguous_id_prefix_is_an_error_naming_the_candidates():
    docker = DockerState(containers=(B353, OTHER))
    with pytest.raises(AmbiguousReference) as err:
        docker.container("b1")
    assert isinstance(err.value, NflensError)
    text = str(err.value)
    assert "'b1' is ambiguous" in text
    assert "b353 (b1f00d000000)" in text and "db (b1e222222222)" in text


def test_networks_follow_docker_find_network():
    bridge = Network("b1" + "3" * 62, "bridge")
    b1 = Network("77" * 32, "b1")
    docker = DockerState(networks=(bridge, b1))
    assert docker.network("b1") is b1
    assert docker.network(bridge.id) is bridge
    assert docker.network("b13") is bridge
    twins = DockerState(networks=(Network("12" * 32, "dup"), Network("34" * 32, "dup")))
    with pytest.raises(AmbiguousReference, match="2 networks have that name"):
        twins.network("dup")
    with pytest.raises(AmbiguousReference, match="2 IDs start with it"):
        DockerState(networks=(bridge, Network("b1" + "4" * 62, "x"))).network("b1")
