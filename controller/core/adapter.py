"""The contract every node kind implements: observe / create / update / delete.

Why: crossplane-runtime's managed reconciler showed that a small, uniform contract lets one generic
reconciler own finalizers, policies, conditions, drift and metrics. Observe never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from ..policy import Claim, ClaimKind
from .conditions import Cond
from .wiring import Wiring

SpecT = TypeVar("SpecT", bound=BaseModel)
ActualT = TypeVar("ActualT")

OWNER_TAG_PREFIX = "stackery.io/"
TAG_NAMESPACE = "stackery.io/namespace"
TAG_KIND = "stackery.io/kind"
TAG_NAME = "stackery.io/name"
TAG_UID = "stackery.io/uid"


@dataclass(frozen=True)
class ObjectRef:
    """Identity of the Kubernetes object being reconciled."""

    kind: str
    namespace: str
    name: str
    uid: str

    def owner_tags(self) -> dict[str, str]:
        return {TAG_NAMESPACE: self.namespace, TAG_KIND: self.kind, TAG_NAME: self.name, TAG_UID: self.uid}

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class SecretKey:
    """A key of a Secret in the object's namespace whose value the adapter needs."""

    name: str
    key: str


@dataclass(frozen=True)
class NodeRef:
    """Another Stackery object in the same namespace that must exist and be Ready first (a wire)."""

    kind: str
    name: str
    wire: bool = field(default=False, compare=False)
    """True for a connection: the target kind must declare a Wiring (env names + IAM grants), else the
    spec is refused with a message naming the kind."""
    role: str = field(default="uses", compare=False)
    """What the reference is, in a word, for pictures of the stack (connection, trigger, code, origin)."""


Reference = SecretKey | NodeRef


@dataclass(frozen=True)
class Diff:
    """One managed field where AWS differs from the desired state."""

    field: str
    desired: Any
    actual: Any


@dataclass(frozen=True)
class Request(Generic[SpecT]):
    """Everything an adapter needs for one call, resolved by the reconciler beforehand."""

    ref: ObjectRef
    spec: SpecT
    region: str
    external_name: str
    adopt: bool = False
    """True when the user named an existing resource (stackery.io/external-name) to take over."""
    inputs: Mapping[str, str] = field(default_factory=dict)
    """Resolved Secret values by "secret/key"; adapters never talk to Kubernetes themselves."""
    nodes: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    """Status of each referenced Ready node by (kind, name)."""
    status: Mapping[str, Any] = field(default_factory=dict)
    """Status from the last reconcile (identifiers an adapter recorded)."""
    wiring: Mapping[str, Wiring] = field(default_factory=dict)
    """What each wired kind exports and grants (from the registry), for kinds that make connections."""

    def tags(self) -> dict[str, str]:
        """User tags plus ownership tags (ownership wins)."""
        user: Mapping[str, str] = getattr(self.spec, "tags", {}) or {}
        return {**user, **self.ref.owner_tags()}


@dataclass(frozen=True)
class Observation(Generic[ActualT]):
    """What observe found. `exists=False` means not found (never None, never an exception).

    `actual` is the adapter's own typed record of what it read (a dataclass per kind), handed back to
    update and delete so they never re-read it; the core never looks inside."""

    exists: bool
    owner_uid: str | None = None
    """stackery.io/uid tag on the found resource; None when untagged."""
    owner: str | None = None
    """Human-readable owner (namespace/kind/name) from the tags, for messages."""
    diffs: tuple[Diff, ...] = ()
    identifiers: Mapping[str, Any] = field(default_factory=dict)
    """Status fields: arn, externalName, and kind-specific ones."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    """Stackery environment names -> values, published to the outputs ConfigMap (and Secret)."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Credentials (a database's username, password, uri) for the outputs Secret only: never in status,
    events, logs or the ConfigMap. Adapters read them only when spec.outputs.secretName is set."""
    actual: ActualT | None = None
    """Typed actual state an adapter's update/delete needs (e.g. the whole bucket policy); never in status."""
    waiting: str | None = None
    """Set when the resource exists but is not usable yet (e.g. deploying); the message says why."""
    waiting_reason: str = "Provisioning"
    empty: bool = False
    """exists=True but nothing is held in AWS (an empty ConfigStore path): a delete has nothing to confirm."""
    deleting: bool = False
    """The resource exists in a deleting state (AWS deletes asynchronously): a finalize waits, it does
    not call delete again."""
    residual: bool = False
    """With exists=False: owned parts are left (e.g. a certificate after its distribution), so a
    delete must still run."""
    conditions: tuple[Cond, ...] = ()
    """Node-specific conditions (e.g. CertificateIssued), merged beside the standard four."""
    message: str = ""
    """The Ready condition's message when everything is in place (e.g. how to connect)."""


@dataclass(frozen=True)
class DeleteResult:
    done: bool
    message: str = ""
    notes: tuple[tuple[str, str], ...] = ()
    """(reason, message) pairs worth an Event, e.g. ("BackupTaken", arn)."""
    confirmed: bool = False
    """True when the adapter itself observed every resource gone (Composite does, part by part), so the
    core need not observe once more before releasing the finalizer."""


NOT_FOUND: Observation[Any] = Observation(exists=False)


class Adapter(Protocol[SpecT, ActualT]):
    """One per node kind. Every call is idempotent; observe makes read calls only."""

    name_scope: ClaimKind | None
    """The scope rule the main resource's name falls under when a user chooses it with the adoption
    annotation (an SSM path for a ConfigStore); None: only the adoption rule for untagged resources."""

    tagged_at_create: bool
    """True when the create call that makes the main resource also tags it (CreateTable with Tags): a failed
    create cannot leave an untagged resource of this object's, so the core writes no pendingCreate marker
    before it (one status write, and its watch event, fewer per create). False: tags follow in another call
    (CreateBucket, then PutBucketTagging), and the marker lets a retry recognise the untagged leftover."""

    def external_name(self, ref: ObjectRef, spec: SpecT) -> str:
        """Deterministic name of the main AWS resource (so a retried create finds what it made)."""
        ...

    def references(self, spec: SpecT) -> list[Reference]:
        """Secret keys and other nodes this spec needs resolved before observe."""
        ...

    def claims(self, spec: SpecT) -> list[Claim]:
        """User-chosen names and references outside the object's own resources (an SSM path, a role ARN,
        a code bucket, a domain): the core checks them against the namespace's scope before any AWS call."""
        ...

    def observe(self, req: Request[SpecT]) -> Observation[ActualT]: ...

    def create(self, req: Request[SpecT], obs: Observation[ActualT] | None = None) -> Observation[ActualT] | None:
        """Create what observe found missing (obs, when given, is that observation: no re-read).

        Returns what the new resource is known to be without reading it back (its differences from the
        spec are what update then applies), or None when only a fresh observe can tell (the core
        observes then). AWS calls are the cost: a create never reads back what it just wrote."""
        ...

    def update(self, req: Request[SpecT], obs: Observation[ActualT]) -> Observation[ActualT] | None:
        """Apply exactly the differences in obs.diffs. Returns the observation as it stands after the
        writes (what AWS answered, or obs with the written fields now as desired), or None when only a
        fresh observe can tell."""
        ...

    def delete(self, req: Request[SpecT], obs: Observation[ActualT]) -> DeleteResult:
        """Start or continue deleting. done=True means every delete call was accepted; the core then
        confirms by observing the resource gone (or deleting) before it releases the finalizer."""
        ...
