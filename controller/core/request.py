"""Resolving what one adapter call needs: the AWS name, region, Secret values and referenced nodes.

Why: which name an object works on (its adoption annotation, the resource it already holds, or its
default), where (the region it lives in) and with which inputs is decided the same way for every kind
and every path (reconcile, finalize); the state machine in reconciler.py only asks for the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic

from ..errors import InvalidSpecError, WaitingError
from ..settings import Settings
from . import conditions
from .adapter import Adapter, NodeRef, Request, SecretKey, SpecT
from .ports import Cluster
from .status import Managed
from .wiring import Wiring

EXTERNAL_NAME_ANNOTATION = "stackery.io/external-name"


class Resolver(Generic[SpecT]):
    def __init__(
        self, *, adapter: Adapter[SpecT, Any], cluster: Cluster, settings: Settings, wiring: Mapping[str, Wiring]
    ) -> None:
        self.adapter = adapter
        self.cluster = cluster
        self.settings = settings
        self.wiring = wiring

    def request(self, obj: Managed, spec: SpecT, *, need_inputs: bool = True, deleting: bool = False) -> Request[SpecT]:
        """The Request for one pass. need_inputs=False (deleting): missing Secrets/nodes are left out, not
        waited for. deleting=True: the region is where the resources are, whatever the spec says now."""
        adopt_name = obj.annotations.get(EXTERNAL_NAME_ANNOTATION)
        # What the object already holds keeps its name, so a change of the naming scheme never renames
        # (and so duplicates) a resource; a changed adoption annotation is handled in _switch.
        held = obj.status.get("resourceName")
        external = adopt_name or held or self.adapter.external_name(obj.ref, spec)
        inputs: dict[str, str] = {}
        nodes: dict[tuple[str, str], Mapping[str, Any]] = {}
        missing: list[str] = []
        for ref in dict.fromkeys(self.adapter.references(spec)):  # one read per distinct reference
            if isinstance(ref, SecretKey):
                value = self.cluster.read_secret_key(obj.ref.namespace, ref.name, ref.key)
                if value is None:
                    missing.append(f"Secret {ref.name} key {ref.key}")
                else:
                    inputs[f"{ref.name}/{ref.key}"] = value
                continue
            if isinstance(ref, NodeRef) and ref.wire and ref.kind not in self.wiring:
                raise InvalidSpecError(
                    f"{ref.kind} {ref.name} cannot be connected to: {ref.kind} declares no wiring "
                    f"(wireable kinds: {', '.join(sorted(self.wiring)) or 'none'})"
                )
            node = self.cluster.read_node(ref.kind, obj.ref.namespace, ref.name)
            if node is None:
                missing.append(f"{ref.kind} {ref.name} (not found)")
                continue
            status = node.get("status") or {}
            fresh = status.get("observedGeneration") == (node.get("metadata") or {}).get("generation")
            if not (fresh and conditions.is_true(status.get("conditions") or [], conditions.READY)):
                missing.append(f"{ref.kind} {ref.name} (not Ready)")
                continue
            nodes[(ref.kind, ref.name)] = status
        if missing and need_inputs:
            raise WaitingError(
                f"waiting for {', '.join(missing)} in namespace {obj.ref.namespace}",
                reason="WaitingForReference",
                retry_after=self.settings.wait_seconds,
            )
        region = getattr(spec, "region", None) or self.settings.region
        held_region = obj.status.get("resourceRegion")
        if held_region and deleting:
            region = held_region  # delete what exists where it is
        elif held_region and held_region != region:
            raise InvalidSpecError(
                f"spec.region {region} differs from {held_region}, where this object's AWS resources are: region is "
                f"immutable. Set spec.region: {held_region} (or remove it if that is the operator's default), or "
                "create a new object in the other region."
            )
        crashed_create = obj.status.get("pendingCreate") == external
        return Request(
            ref=obj.ref,
            spec=spec,
            region=region,
            external_name=external,
            adopt=bool(adopt_name) or crashed_create,
            inputs=inputs,
            nodes=nodes,
            status=obj.status,
            wiring=self.wiring,
        )
