"""pydantic schemas of a snapshot's JSON files (`ip -j`, `docker inspect`): what hostfiles.py
and dockerfiles.py may rely on.

The readers used to trust every field (`"dst": 5` -> TypeError, a dict for `protocol` ->
unhashable, `addr_info: ["x"]` -> AttributeError, `ifindex: "x"` -> ValueError: tracebacks, issue
16.10). Each entry is validated first; a wrong entry becomes a ParseError naming the entry, the
field and what was expected. Only the fields nflens reads are declared (with the types iproute2's
JSON writer gives them: numbers are JSON numbers, names are strings); every other field is
allowed and ignored, since each iproute2 version adds some.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from nflens.errors import ParseError

Index = Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]
U32 = Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]
Number = StrictInt | StrictStr  # rule marks are printed "0x10" or 16, tables "main" or 100


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class AddrInfo(_Entry):
    family: StrictStr | None = None
    local: StrictStr | None = None
    prefixlen: Annotated[StrictInt, Field(ge=0, le=128)] | None = None
    scope: StrictStr | StrictInt = "global"


class LinkInfo(_Entry):
    info_kind: StrictStr | None = None
    info_slave_kind: StrictStr | None = None
    info_data: dict[str, Any] | None = None
    info_slave_data: dict[str, Any] | None = None


class Link(_Entry):
    """One element of `ip -j -d link show` or `ip -j addr show`."""

    ifindex: Index = 0
    ifname: NonEmpty
    link_type: StrictStr | None = None
    address: StrictStr | None = None
    flags: list[StrictStr] = []
    mtu: U32 = 1500
    master: StrictStr | None = None
    link_index: Index | None = None
    link_netnsid: StrictInt | StrictStr | None = None
    link: StrictStr | None = None
    linkinfo: LinkInfo | None = None
    addr_info: list[AddrInfo] = []


class Nexthop(_Entry):
    gateway: StrictStr | None = None
    dev: StrictStr | None = None
    flags: list[StrictStr] = []


class RouteEntry(_Entry):
    """One element of `ip -j route show table all`."""

    dst: NonEmpty
    type: StrictStr = "unicast"
    table: Number = "main"
    dev: StrictStr | None = None
    gateway: StrictStr | None = None
    prefsrc: StrictStr | None = None
    metric: U32 = 0
    scope: StrictStr | StrictInt | None = None
    protocol: StrictStr | StrictInt | None = None
    nexthops: list[Nexthop] | None = None
    flags: list[StrictStr] = []


class RuleEntry(_Entry):
    """One element of `ip -j rule show`."""

    priority: U32 = 0
    table: Number | None = None
    target: Number | None = None
    action: StrictStr | None = None
    src: StrictStr | None = None
    srclen: Annotated[StrictInt, Field(ge=0, le=128)] | None = None
    dst: StrictStr | None = None
    dstlen: Annotated[StrictInt, Field(ge=0, le=128)] | None = None
    iif: StrictStr | None = None
    oif: StrictStr | None = None
    fwmark: Number | None = None
    fwmask: Number | None = None


class EntryError(ParseError):
    """A wrong element of a JSON list; `entry` is its 0-based index (read.py finds its line)."""

    def __init__(self, message: str, file: str, entry: int):
        self.entry = entry
        super().__init__(message, file, None)


_UNION_TAGS = {"int", "str", "bool", "float", "dict", "list", "none"}


def _where(loc: tuple) -> str:
    """The field's path, without the union member names pydantic inserts (`protocol.int`)."""
    parts = [str(p) for p in loc if str(p) not in _UNION_TAGS and not str(p).startswith(
        ("function-", "constrained-"))]
    return ".".join(parts)


def _message(exc: ValidationError) -> str:
    errors = exc.errors()
    where = _where(errors[0]["loc"])
    same = [e for e in errors if _where(e["loc"]) == where]
    got = type(errors[0].get("input")).__name__
    prefix = f"{where}: " if where else ""
    if len(same) > 1:  # every member of a union refused it
        msg = f"{prefix}{' or '.join(e['msg'].removeprefix('Input should be ') for e in same)}" \
              f", not a {got}"
    else:
        msg = f"{prefix}{errors[0]['msg']}"
    rest = len(errors) - len(same)
    return msg + (f" (and {rest} more)" if rest else "")


def _describe(raw: Any) -> str:
    name = raw.get("ifname", raw.get("Name")) if isinstance(raw, dict) else None
    if isinstance(name, str):
        return f" ({name!r})"
    dst = raw.get("dst") if isinstance(raw, dict) else None
    return f" (dst {dst!r})" if isinstance(dst, str) else ""


def entries(model: type[_Entry], data: Any, file: str, what: str) -> list:
    """Validate `data` as a JSON list of `model` objects (as `ip -j` prints them)."""
    if not isinstance(data, list):
        raise ParseError(f"expected a JSON list of objects (as `{what}` prints), "
                         f"not {type(data).__name__}", file, 1)
    out = []
    for i, raw in enumerate(data):
        try:
            out.append(model.model_validate(raw))
        except ValidationError as exc:
            raise EntryError(f"entry #{i + 1}{_describe(raw)}: {_message(exc)}", file,
                             i) from None
    return out


# ---- docker inspect / docker network inspect ------------------------------------------------
# Docker writes null for an empty map or list (Labels, Ports, Networks): every field is optional.

class _Binding(_Entry):
    HostIp: StrictStr | None = None
    HostPort: StrictStr | None = None


Bindings = dict[StrictStr, list[_Binding] | None] | None


class _State(_Entry):
    Running: bool | None = None
    Pid: StrictInt | None = None


class _Endpoint(_Entry):
    IPAddress: StrictStr | None = None
    IPPrefixLen: Annotated[StrictInt, Field(ge=0, le=32)] | None = None
    GlobalIPv6Address: StrictStr | None = None
    GlobalIPv6PrefixLen: Annotated[StrictInt, Field(ge=0, le=128)] | None = None
    Gateway: StrictStr | None = None
    IPv6Gateway: StrictStr | None = None
    MacAddress: StrictStr | None = None
    EndpointID: StrictStr | None = None


class _Settings(_Entry):
    Ports: Bindings = None
    Networks: dict[StrictStr, _Endpoint | None] | None = None


class _HostConfig(_Entry):
    PortBindings: Bindings = None
    NetworkMode: StrictStr | None = None


class _Config(_Entry):
    ExposedPorts: dict[StrictStr, Any] | None = None
    Labels: dict[StrictStr, StrictStr] | None = None


class DockerContainer(_Entry):
    """One object of `docker inspect` (the fields dockerfiles.container reads)."""

    Id: NonEmpty
    Name: StrictStr | None = None
    State: _State | None = None
    NetworkSettings: _Settings | None = None
    HostConfig: _HostConfig | None = None
    Config: _Config | None = None


class _IpamConfig(_Entry):
    Subnet: StrictStr | None = None
    Gateway: StrictStr | None = None


class _Ipam(_Entry):
    Config: list[_IpamConfig] | None = None


class DockerNetwork(_Entry):
    """One object of `docker network inspect`."""

    Id: NonEmpty
    Name: StrictStr | None = None
    Driver: StrictStr | None = None
    Options: dict[StrictStr, StrictStr] | None = None
    IPAM: _Ipam | None = None
    Internal: bool | None = None
    EnableIPv6: bool | None = None


# ---- podman network inspect (netavark's network config, lowercase keys) ---------------------

class _PodmanSubnet(_Entry):
    subnet: NonEmpty
    gateway: StrictStr | None = None


class PodmanNetwork(_Entry):
    """One object of `podman network inspect` (netavark's types::Network, as podman prints it)."""

    name: NonEmpty
    id: StrictStr | None = None
    driver: StrictStr | None = None
    network_interface: StrictStr | None = None
    subnets: list[_PodmanSubnet] | None = None
    ipv6_enabled: bool | None = None
    internal: bool | None = None
    options: dict[StrictStr, StrictStr] | None = None
