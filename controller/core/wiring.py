"""What a kind gives to a node connected to it: Stackery's environment names and IAM statements.

Why: a wire (a Function's connection today; Docker Service and Bastion next) must not hard-code what
every other kind exports. Each kind declares its Wiring next to its adapter; the registry collects them
and the core hands them to the kinds that make connections. A kind without a Wiring cannot be a
connection target, and saying so is the core's job, not each connecting kind's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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

    def environment(self, status: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(name, str(status.get(field) or "")) for name, field in self.env]
