"""What a kind gives to a node connected to it: Stackery's environment names and IAM statements.

Why: a wire (a Function's connection today; Docker Service and Bastion next) must not hard-code what
every other kind exports. Each kind declares its Wiring next to its adapter; the registry collects them
and the core hands them to the kinds that make connections. A kind without a Wiring cannot be a
connection target, and saying so is the core's job, not each connecting kind's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..errors import InvalidSpecError

Access = Literal["ReadWrite", "ReadOnly"]
Statement = dict[str, Any]


@dataclass(frozen=True)
class GrantContext:
    """Where the connecting node runs: some ARNs (SSM parameters) need the region and the account."""

    region: str
    account: str


@dataclass(frozen=True)
class Wiring:
    """Exports and grants of one kind, read from the target's status."""

    env: tuple[tuple[str, str], ...]
    """(Stackery environment name, status field) in order, e.g. ("TABLE_NAME", "externalName")."""
    grants: Callable[[Mapping[str, Any], GrantContext, Access], list[Statement]]
    """IAM statements (Action + Resource, no Sid/Effect) a connection with that access level needs."""
    network: str | None = None
    """For a target reached over a Virtual Network (a Database): the status field naming its network. The
    connecting node must be placed in that same network, or the connection is refused."""
    client_group: str | None = None
    """With `network`: the status field of the security group a connecting node carries to be let in."""

    def environment(self, status: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(name, str(status.get(field) or "")) for name, field in self.env]


def network_groups(
    node: str,
    placed_in: str | None,
    connections: list[tuple[str, str]],
    nodes: Mapping[tuple[str, str], Mapping[str, Any]],
    wiring: Mapping[str, Wiring],
) -> list[str]:
    """The client groups a node placed in network `placed_in` carries for its connections to targets
    reached over a network (a Database); InvalidSpecError when it is not placed in that same network."""
    groups: list[str] = []
    for kind, name in connections:
        w = wiring.get(kind)
        if w is None or w.network is None or w.client_group is None:
            continue
        status = nodes.get((kind, name))
        if status is None:  # not handed over: the node is being deleted (a delete needs no groups)
            continue
        where = status.get(w.network)
        if placed_in != where:
            here = f"in StackeryVirtualNetwork {placed_in}" if placed_in else "not placed in any network"
            raise InvalidSpecError(
                f"{node} connects to {kind} {name}, which is reachable only inside StackeryVirtualNetwork {where}, but it "
                f"is {here}: set spec.virtualNetwork: {where}, or remove the connection"
            )
        group = status.get(w.client_group)
        if group:
            groups.append(str(group))
    return sorted(set(groups))


class Connects(Protocol):
    """A connection in a spec (a Function's or a Docker Service's): the target and the access level."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def access(self) -> Access: ...


Nodes = Mapping[tuple[str, str], Mapping[str, Any]]


def environment(
    own: Mapping[str, str], connections: Sequence[Connects], nodes: Nodes, wiring: Mapping[str, Wiring]
) -> dict[str, str]:
    """The user's variables, then each connection's (as its kind declares them) in spec order; a taken
    name gets _2, _3, ... (Stackery's rule)."""
    env = dict(own)
    for c in connections:
        for key, value in wiring[c.kind].environment(nodes[(c.kind, c.name)]):
            name, n = key, 1
            while name in env:
                n += 1
                name = f"{key}_{n}"
            env[name] = value
    return env


def connection_statements(
    connections: Sequence[Connects], nodes: Nodes, wiring: Mapping[str, Wiring], ctx: GrantContext
) -> list[Statement]:
    """Per connection, what its kind grants on exactly its ARNs at the connection's access level, with Sids."""
    statements: list[Statement] = []
    for i, c in enumerate(connections, start=1):
        granted = wiring[c.kind].grants(nodes[(c.kind, c.name)], ctx, c.access)
        for j, stmt in enumerate(granted):
            sid = f"Connection{i}{c.kind.removeprefix('Stackery')}" + (str(j + 1) if j else "")
            statements.append({"Sid": sid, "Effect": "Allow", **stmt})
    return statements
