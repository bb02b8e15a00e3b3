"""Fakes for driving the generic reconciler without AWS or Kubernetes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from controller.api.common import CommonSpec
from controller.core.adapter import NOT_FOUND, DeleteResult, Diff, NodeRef, ObjectRef, Observation, Reference, Request, SecretKey
from controller.core.reconciler import Managed, Reconciler
from controller.errors import StackeryError
from controller.policy import Claim, ClaimKind, Policy
from controller.settings import Settings


class WidgetSpec(CommonSpec):
    size: int = Field(default=1, ge=1, le=10)
    color: str = "blue"
    secret: str | None = None
    needs: list[str] = Field(default_factory=list)


@dataclass
class FakeAdapter:
    """An in-memory cloud: name -> {"tags": {...}, "size": int, "color": str}."""

    name_scope: ClaimKind | None = None
    tagged_at_create: bool = False

    cloud: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail: dict[str, BaseException] = field(default_factory=dict)
    delete_result: DeleteResult = field(default_factory=lambda: DeleteResult(done=True))
    claimed: list[Claim] = field(default_factory=list)
    """What claims() reports (scope tests)."""

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        if op in self.fail:
            raise self.fail[op]

    def external_name(self, ref: ObjectRef, spec: WidgetSpec) -> str:
        return f"widget-{ref.namespace}-{ref.name}"

    def references(self, spec: WidgetSpec) -> list[Reference]:
        refs: list[Reference] = [SecretKey(spec.secret, "key")] if spec.secret else []
        return refs + [NodeRef("Gadget", n) for n in spec.needs]

    def claims(self, spec: WidgetSpec) -> list[Claim]:
        return list(self.claimed)

    def observe(self, req: Request[WidgetSpec]) -> Observation:
        self._maybe_fail("observe")
        res = self.cloud.get(req.external_name)
        if res is None:
            return NOT_FOUND
        tags = res["tags"]
        diffs = []
        for f in ("size", "color"):
            if res[f] != getattr(req.spec, f):
                diffs.append(Diff(f, getattr(req.spec, f), res[f]))
        if tags != req.tags():
            diffs.append(Diff("tags", "spec", "actual"))
        uid = tags.get("stackery.io/uid")
        return Observation(
            exists=True,
            owner_uid=uid,
            owner=tags.get("stackery.io/name"),
            diffs=tuple(diffs),
            identifiers={"externalName": req.external_name, "arn": f"arn:fake:{req.external_name}"},
            outputs={"WIDGET_NAME": req.external_name},
        )

    def create(self, req: Request[WidgetSpec], obs: Observation[Any] | None = None) -> None:
        self._maybe_fail("create")
        self.cloud[req.external_name] = {"tags": req.tags(), "size": 1, "color": "blue"}

    def update(self, req: Request[WidgetSpec], obs: Observation[Any]) -> None:
        self._maybe_fail("update")
        res = self.cloud[req.external_name]
        res.update(size=req.spec.size, color=req.spec.color, tags=req.tags())

    def delete(self, req: Request[WidgetSpec], obs: Observation[Any]) -> DeleteResult:
        self._maybe_fail("delete")
        if self.delete_result.done:
            del self.cloud[req.external_name]
        return self.delete_result

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if c != "observe"]


@dataclass
class FakeCluster:
    secrets: dict[tuple[str, str, str], str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    secret_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    nodes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    """What referrers() answers (in-use protection tests)."""

    def mark_pending_create(self, ref: ObjectRef, external_name: str) -> None:
        self.pending.append(external_name)

    def read_node(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.nodes.get((kind, name))

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get((namespace, name, key))

    def publish_outputs(self, ref: ObjectRef, name: str, data: Mapping[str, str], *, secret: bool = False) -> None:
        (self.secret_outputs if secret else self.outputs)[name] = dict(data)

    def referrers(self, kind: str, namespace: str, name: str) -> list[str]:
        return list(self.users)

    def delete_outputs(self, ref: ObjectRef, name: str, *, secret: bool = False) -> None:
        (self.secret_outputs if secret else self.outputs).pop(name, None)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


REF = ObjectRef(kind="Widget", namespace="ns", name="w", uid="uid-1")


def test_settings() -> Settings:
    """Explicit settings for unit tests (independent of the environment)."""
    return Settings(
        region="us-east-1",
        resync_seconds=300,
        resync_jitter=0.1,
        tick_seconds=10,
        wait_seconds=10,
        blocked_seconds=60,
        default_deletion_policy="Delete",
        backoff_base_seconds=2,
        backoff_max_seconds=300,
        backoff_jitter=0.0,
        metrics_port=0,
        namespaces=(),
        workers=2,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  (not a pytest test)


def classify(exc: BaseException) -> StackeryError:
    from controller.aws.errors import classify as real

    return real(exc)


def make(
    adapter: FakeAdapter | None = None, cluster: FakeCluster | None = None, policy: Policy | None = None
) -> tuple[Reconciler[WidgetSpec], FakeAdapter, FakeCluster, Clock]:
    adapter = adapter or FakeAdapter()
    cluster = cluster or FakeCluster()
    clock = Clock()
    settings = test_settings()
    rec = Reconciler(
        kind="Widget",
        spec_model=WidgetSpec,
        adapter=adapter,
        cluster=cluster,
        settings=settings,
        classify=classify,
        clock=clock,
        policy=policy,
    )
    return rec, adapter, cluster, clock


@dataclass
class Obj:
    """A mutable stand-in for the Kubernetes object: apply() merges a result's status like kopf does."""

    spec: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    generation: int = 1
    annotations: dict[str, str] = field(default_factory=dict)
    ref: ObjectRef = REF

    def managed(self) -> Managed:
        return Managed(
            ref=self.ref,
            generation=self.generation,
            spec=self.spec,
            status=self.status,
            annotations=self.annotations,
            created="2026-01-01T00:00:00Z",
        )

    def edit(self, **spec: Any) -> None:
        self.spec.update(spec)
        self.generation += 1

    def cond(self, ctype: str) -> dict[str, Any]:
        return next(c for c in self.status["conditions"] if c["type"] == ctype)

    def summary(self) -> tuple[str, str, str, str]:
        return tuple(self.cond(t)["status"] for t in ("Ready", "Synced", "Reconciling", "Stalled"))  # type: ignore[return-value]
