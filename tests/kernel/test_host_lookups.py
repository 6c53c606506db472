"""The host's lookups answer what their reference definition answers: containers in Docker's
order (ir.host), interfaces and sysctls by a scan in order (the first one wins)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nflens.errors import AmbiguousReference
from nflens.ir.host import Container, DockerState, Host, Interface

HEX = st.text("abc0", min_size=1, max_size=4)


def _docker_order(containers, ref):
    """moby's GetContainer: a full ID, then an exact name, then a unique ID prefix; two
    containers of one name, or several with the prefix, is an error; an empty reference names
    nothing; a leading / is the name's, as Docker prints names."""
    ref = ref.lstrip("/")
    if not ref:
        return None
    full = [c for c in containers if c.id == ref]
    if full:
        return full[0]
    named = [c for c in containers if c.name.lstrip("/") == ref]
    prefixed = [c for c in containers if c.id.startswith(ref)]
    if len(named) > 1 or (not named and len(prefixed) > 1):
        return AmbiguousReference
    return (named or prefixed or [None])[0]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(HEX, st.sampled_from(("/a", "/ab", "b", "/c0", "abc"))), max_size=6),
       st.one_of(HEX, st.sampled_from(("", "/a", "ab", "abc", "c0"))))
def test_container_lookup_follows_dockers_order(pairs, ref):
    """(Was "the first by name or id prefix in order", which took `b1` for `b353`: issue 15.5.)"""
    docker = DockerState(tuple(Container(i, n) for i, n in pairs))
    expect = _docker_order(docker.containers, ref)
    if expect is AmbiguousReference:
        with pytest.raises(AmbiguousReference):
            docker.container(ref)
    else:
        assert docker.container(ref) is expect


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("123")), max_size=6),
       st.sampled_from("abcd"))
def test_sysctl_and_interface_first_wins(pairs, key):
    host = Host(interfaces=tuple(Interface(k, int(v)) for k, v in pairs), sysctls=tuple(pairs))
    assert host.sysctl(key, "none") == next((v for k, v in pairs if k == key), "none")
    assert host.interface(key) is next((i for i in host.interfaces if i.name == key), None)
