"""The intermediate representation: the one contract between every layer.

Frozen dataclasses only; no I/O and no behaviour beyond small derived properties.
- `ir.rules`: rulesets of every dialect (iptables, nftables, ebtables) in one shape.
- `ir.host`: the host around the rules (interfaces, routes, sockets, sysctls, Docker).
- `ir.packet`: concrete packets and flows the simulator is asked about.
"""

from nflens.ir.host import (  # noqa: F401
    Address,
    Container,
    ContainerEndpoint,
    DaemonOptions,
    DockerState,
    Host,
    Interface,
    Network,
    PolicyRule,
    PortBinding,
    Route,
    Socket,
)
from nflens.ir.rules import (  # noqa: F401
    Action,
    Chain,
    NamedSet,
    NftCmp,
    Opt,
    Rule,
    Ruleset,
    Source,
    Table,
    Unsupported,
    XtMatch,
)
