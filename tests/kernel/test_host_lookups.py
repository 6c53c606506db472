"""The host's indexed lookups answer what a scan in order answers (ir.host: containers by name
or id prefix, interfaces, sysctls — the first one wins)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nflens.ir.host import Container, DockerState, Host, Interface

HEX = st.text("abc0", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(HEX, st.sampled_from(("/a", "/ab", "b", "/c0", "abc"))), max_size=6),
       st.one_of(HEX, st.sampled_from(("", "/a", "ab", "abc", "c0"))))
def test_container_by_name_or_id_prefix_is_the_first_in_order(pairs, ref):
    docker = DockerState(tuple(Container(i, n) for i, n in pairs))
    expect = next((c for c in docker.containers
                   if c.name.lstrip("/") == ref.lstrip("/") or c.id.startswith(ref)), None)
    assert docker.container(ref) is expect


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("123")), max_size=6),
       st.sampled_from("abcd"))
def test_sysctl_and_interface_first_wins(pairs, key):
    host = Host(interfaces=tuple(Interface(k, int(v)) for k, v in pairs), sysctls=tuple(pairs))
    assert host.sysctl(key, "none") == next((v for k, v in pairs if k == key), "none")
    assert host.interface(key) is next((i for i in host.interfaces if i.name == key), None)
