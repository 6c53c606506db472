"""The policy file, in the user's terms, validated by pydantic.

```yaml
version: 1
groups:                       # named sets of sources/destinations (CIDRs or other groups)
  office: [10.99.0.0/24, "2001:db8:1::/64"]
take_over: [DOCKER-USER]      # optional: replace what others left in DOCKER-USER / ebtables
inbound:
  default: closed             # published ports not listed below: open (Docker's default) | closed
  ports:
    - {container: web, port: 8080, from: [office]}   # host port or container port
    - {label: "tier=front", port: 443}               # from: [any] by default
egress:                       # per network, container or label; replies always pass
  - {network: bridge, default: deny, allow: [office, {to: [any], port: 443}], dns: true}
to_host:                      # container -> host (INPUT, not FORWARD)
  - {network: bridge, default: deny, allow: [8000, "53/udp"]}
```

A container may carry its own policy in the label `nflens.policy` (YAML flow text with the keys
`inbound` (a list of ports), `egress` and `to_host`), e.g.
`nflens.policy={egress: {default: deny, dns: true}, inbound: [{port: 80, from: [office]}]}`.

Unknown keys are errors (a typo must not silently widen a firewall); every error names its line.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from nflens.errors import ParseError, PolicyError
from nflens.policy.loader import Located, load_file, load_yaml

ANY = "any"
LABEL_KEY = "nflens.policy"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Selector(_Model):
    """Exactly one of: a container (name or id), a label (`key` or `key=value`), a network."""

    container: str | None = None
    label: str | None = None
    network: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Selector:
        given = [k for k in ("container", "label", "network") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("name exactly one of container, label, network"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    def describe(self) -> str:
        for key in ("container", "label", "network"):
            if getattr(self, key):
                return f"{key} {getattr(self, key)}"
        return "?"


def _port(value: Any) -> tuple[int, str]:
    """8000, "8000", "53/udp" -> (port, proto)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not a port (1-65535, optionally /tcp or /udp)")
    text = str(value)
    port, _, proto = text.partition("/")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not a port (1-65535, optionally /tcp or /udp)")
    if proto not in ("", "tcp", "udp"):
        raise ValueError(f"{value!r}: protocol must be tcp or udp")
    return int(port), proto or "tcp"


def _not_bool(value: Any) -> Any:
    """YAML's `true` is not port 1 (pydantic's lax int would take it)."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a port (1-65535)")
    return value


Port = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=65535)]


class PortSpec(_Model):
    """A published port as the user knows it: the host port or the container port."""

    port: Port
    proto: Literal["tcp", "udp"] = "tcp"
    sources: tuple[str, ...] = Field(default=(ANY,), alias="from")


class PortRule(PortSpec, Selector):
    @model_validator(mode="after")
    def _not_network(self) -> PortRule:
        if self.network:
            raise ValueError("a port belongs to a container: use container or label")
        return self


class Dest(_Model):
    to: tuple[str, ...] = (ANY,)
    port: Port | None = None
    proto: Literal["tcp", "udp"] | None = None


class EgressSpec(_Model):
    """What the selected containers may open outwards. `deny` still lets replies through."""

    default: Literal["allow", "deny"] = "deny"
    allow: tuple[str | Dest, ...] = ()
    dns: bool = True


class Egress(EgressSpec, Selector):
    pass


class ToHostSpec(_Model):
    """Connections from the selected containers to the host itself (INPUT)."""

    default: Literal["allow", "deny"] = "deny"
    allow: tuple[Annotated[int | str, BeforeValidator(_not_bool)], ...] = ()

    @field_validator("allow")
    @classmethod
    def _ports(cls, value: tuple[int | str, ...]) -> tuple[int | str, ...]:
        for v in value:
            _port(v)
        return value

    def ports(self) -> tuple[tuple[int, str], ...]:
        return tuple(_port(v) for v in self.allow)


class ToHost(ToHostSpec, Selector):
    pass


class Inbound(_Model):
    default: Literal["open", "closed"] = "open"
    ports: tuple[PortRule, ...] = ()


class Policy(_Model):
    version: Literal[1] = 1
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    take_over: tuple[Literal["DOCKER-USER", "ebtables"], ...] = ()
    inbound: Inbound = Inbound()
    egress: tuple[Egress, ...] = ()
    to_host: tuple[ToHost, ...] = ()

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, members in groups.items():
            if name == ANY:
                raise ValueError("'any' is reserved (it means every address)")
            for m in members:
                if m not in groups and m != ANY:
                    _cidr(m)
        return groups


class ContainerPolicy(_Model):
    """The `nflens.policy` label of one container."""

    inbound: tuple[PortSpec, ...] = ()
    egress: EgressSpec | None = None
    to_host: ToHostSpec | None = None


def _cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is neither a CIDR nor a group name") from None


def _message(err: ErrorDetails) -> str:
    loc = ".".join("from" if p == "sources" else str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _located_error(exc: ValidationError, doc: Located) -> ParseError:
    """The first error, at the line of the deepest part of its path that is in the file
    (pydantic inserts union member names such as `str` or `Dest` into the path)."""
    errors = exc.errors()
    first = errors[0]
    path = tuple("from" if p == "sources" else p for p in first["loc"])
    while path and path not in doc.lines:
        path = path[:-1]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ParseError(_message(first) + more, doc.file, doc.line(path))


def parse_policy(doc: Located) -> Policy:
    if not isinstance(doc.data, dict):
        raise ParseError("a policy is a mapping (version, groups, inbound, egress, to_host)",
                         doc.file, 1)
    try:
        policy = Policy.model_validate(doc.data)
    except ValidationError as exc:
        raise _located_error(exc, doc) from None
    for path, name in _address_refs(policy):
        if name != ANY and name not in policy.groups:
            try:
                _cidr(name)
            except ValueError as exc:
                raise ParseError(str(exc), doc.file, doc.line(path)) from None
    return policy


def _address_refs(policy: Policy):
    """(path in the file, text) of every source/destination: each must be a CIDR or a group."""
    for i, rule in enumerate(policy.inbound.ports):
        for j, src in enumerate(rule.sources):
            yield ("inbound", "ports", i, "from", j), src
    for i, eg in enumerate(policy.egress):
        for j, item in enumerate(eg.allow):
            if isinstance(item, str):
                yield ("egress", i, "allow", j), item
            else:
                for k, to in enumerate(item.to):
                    yield ("egress", i, "allow", j, "to", k), to


def load_policy(path: str) -> Policy:
    """Read and validate a policy file (YAML, or TOML by its suffix)."""
    return parse_policy(load_file(path))


def label_policy(container: str, text: str) -> ContainerPolicy:
    """A container's `nflens.policy` label, validated; errors name the container."""
    where = f"container {container}, label {LABEL_KEY}"
    try:
        doc = load_yaml(text, where)
    except ParseError as exc:
        raise PolicyError(f"{where}: {exc.message}") from None
    try:
        return ContainerPolicy.model_validate(doc.data)
    except ValidationError as exc:
        raise PolicyError(f"{where}: {_message(exc.errors()[0])}") from None
