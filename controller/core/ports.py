"""What the reconciler needs from Kubernetes, as a protocol (implemented by controller.kube).

Why: the core stays free of API clients, so unit tests drive it with plain fakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .adapter import ObjectRef


class Cluster(Protocol):
    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        """The decoded value, or None when the Secret or key does not exist."""
        ...

    def read_node(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The whole object (metadata, spec, status) of a Stackery kind, or None when absent."""
        ...

    def mark_pending_create(self, ref: ObjectRef, external_name: str) -> None:
        """Record in status, before an AWS create, which name is about to be created. If the process dies
        between the create and tagging, the next pass knows the untagged resource is its own."""
        ...

    def publish_outputs(self, ref: ObjectRef, name: str, data: Mapping[str, str], *, secret: bool = False) -> None:
        """Create or update the outputs ConfigMap (or Secret) owned by the object; no write when unchanged;
        TerminalError when one of that name exists and is not this object's."""
        ...

    def delete_outputs(self, ref: ObjectRef, name: str, *, secret: bool = False) -> None: ...

    def referrers(self, kind: str, namespace: str, name: str) -> list[str]:
        """ "Kind name" of every object in the namespace whose spec refers to this one (for kinds that are
        not deleted while in use, e.g. a Virtual Network that Functions are placed in)."""
        ...
