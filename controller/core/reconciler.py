"""The generic managed-resource reconciler.

Why: every kind needs the same state machine (parse spec, resolve references, observe, create or
update, report drift, delete through the finalizer), the same conditions and the same metrics. It
lives here once; adapters only know their AWS service. Nothing here writes to Kubernetes directly:
the caller applies the returned status patch and events (see controller.handlers).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic

from pydantic import ValidationError

from .. import metrics
from ..errors import (
    BlockedError,
    InvalidSpecError,
    OwnershipConflictError,
    RecoverableError,
    StackeryError,
    TerminalError,
    WaitingError,
)
from ..settings import Settings
from . import conditions
from .adapter import Adapter, DeleteResult, Diff, NodeRef, ObjectRef, Observation, Request, SecretKey, SpecT
from .conditions import Phase
from .ports import Cluster
from .wiring import Wiring

log = logging.getLogger(__name__)

EXTERNAL_NAME_ANNOTATION = "stackery.io/external-name"
Classifier = Callable[[BaseException], StackeryError]


@dataclass(frozen=True)
class Managed:
    """A snapshot of the Kubernetes object, as the handlers saw it."""

    ref: ObjectRef
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: str | None = None


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Result:
    """What to write back: a merge-patch for .status, events to post, when to look again."""

    status: dict[str, Any]
    events: list[Event]
    requeue_after: float | None
    done: bool = True
    """For finalize: True when the finalizer may be released."""


@dataclass(frozen=True)
class _Outcome:
    phase: Phase
    reason: str
    message: str = ""
    obs: Observation[Any] | None = None
    drift: tuple[Diff, ...] = ()
    corrected: tuple[Diff, ...] = ()
    retry_after: float | None = None


def _fmt(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _fields(diffs: tuple[Diff, ...]) -> str:
    return ", ".join(d.field for d in diffs)


class Reconciler(Generic[SpecT]):
    """Drives one kind's adapter. Thread-safe as long as calls for one object are serialised."""

    def __init__(
        self,
        *,
        kind: str,
        spec_model: type[SpecT],
        adapter: Adapter[SpecT, Any],
        cluster: Cluster,
        settings: Settings,
        classify: Classifier,
        status_fields: frozenset[str] | None = None,
        wiring: Mapping[str, Wiring] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kind = kind
        self.spec_model = spec_model
        self.adapter = adapter
        self.status_fields = status_fields
        """Status keys the kind's model declares; a patch with any other key is a bug (logged, dropped)."""
        self.wiring = dict(wiring or {})
        """Every wireable kind's Wiring (from the registry), handed to adapters that make connections."""
        self.cluster = cluster
        self.settings = settings
        self.classify = classify
        self.clock = clock

    # ---------------------------------------------------------------- scheduling
    def is_due(self, obj: Managed) -> bool:
        """True when a spec change is pending or the object's next check time has come."""
        if obj.status.get("observedGeneration") != obj.generation:
            return True
        nxt = _parse_iso(obj.status.get("nextCheckAt"))
        return nxt is None or self.clock() >= nxt

    def _jitter(self, uid: str) -> float:
        h = int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return 1.0 + self.settings.resync_jitter * (2 * h - 1)

    def _backoff(self, failures: int) -> float:
        return float(min(self.settings.backoff_base_seconds * (2 ** max(failures - 1, 0)), self.settings.backoff_max_seconds))

    # ---------------------------------------------------------------- reconcile
    def reconcile(self, obj: Managed) -> Result:
        started = time.monotonic()
        try:
            outcome = self._sync(obj)
        except Exception as exc:  # noqa: BLE001 - classified in exactly one place
            outcome = self._from_error(obj, exc)
        finally:
            metrics.RECONCILE_DURATION.labels(self.kind).observe(time.monotonic() - started)
        return self._result(obj, outcome)

    def _parse(self, obj: Managed) -> SpecT:
        try:
            return self.spec_model.model_validate(dict(obj.spec))
        except ValidationError as exc:
            problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise InvalidSpecError(f"invalid spec: {problems}") from None

    def _request(self, obj: Managed, spec: SpecT, *, need_inputs: bool = True) -> Request[SpecT]:
        adopt_name = obj.annotations.get(EXTERNAL_NAME_ANNOTATION)
        external = adopt_name or self.adapter.external_name(obj.ref, spec)
        inputs: dict[str, str] = {}
        nodes: dict[tuple[str, str], Mapping[str, Any]] = {}
        missing: list[str] = []
        for ref in self.adapter.references(spec):
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

    def _check_owner(self, req: Request[SpecT], obs: Observation[Any], *, observe_only: bool) -> None:
        if not obs.exists:
            return
        if obs.owner_uid is not None and obs.owner_uid != req.ref.uid:
            raise OwnershipConflictError(
                f"{req.external_name} is owned by another object ({obs.owner or 'unknown'}, uid {obs.owner_uid}); "
                "the operator will not change it. Use another name, or delete the other object first."
            )
        if obs.owner_uid is None and not (req.adopt or observe_only):
            raise OwnershipConflictError(
                f"{req.external_name} already exists and is not tagged as owned by this object. To take it over, "
                f"set the annotation {EXTERNAL_NAME_ANNOTATION}={req.external_name}; otherwise choose another name."
            )

    def _sync(self, obj: Managed) -> _Outcome:
        spec = self._parse(obj)
        req = self._request(obj, spec)
        observe_only = getattr(spec, "management_policy", "Manage") == "ObserveOnly"
        obs = self.adapter.observe(req)
        self._check_owner(req, obs, observe_only=observe_only)

        if observe_only:
            if not obs.exists:
                return _Outcome(
                    "waiting",
                    "NotFound",
                    f"{req.external_name} does not exist; managementPolicy ObserveOnly never creates it",
                    retry_after=self.settings.resync_seconds,
                )
            return self._settle(obj, req, obs, drift=obs.diffs)

        created = False
        if not obs.exists:
            self.cluster.mark_pending_create(obj.ref, req.external_name)
            try:
                self.adapter.create(req, obs)
            except WaitingError as wait:  # a prerequisite is not there yet (e.g. certificate approval)
                obs = self.adapter.observe(req)  # record what create started (e.g. the requested certificate)
                return _Outcome("waiting", wait.reason, wait.message, obs=obs, retry_after=wait.retry_after)
            created = True
            obs = self.adapter.observe(req)
            if not obs.exists:
                raise RecoverableError(f"created {req.external_name} but it is not visible yet")

        spec_changed = obj.status.get("observedGeneration") != obj.generation
        correct = created or spec_changed or getattr(spec, "drift_policy", "Correct") == "Correct"
        if obs.diffs and correct:
            changed = obs.diffs
            try:
                self.adapter.update(req, obs)
            except WaitingError as wait:
                return _Outcome("waiting", wait.reason, wait.message, obs=obs, retry_after=wait.retry_after)
            obs = self.adapter.observe(req)
            corrected = () if (created or spec_changed) else changed
            if obs.diffs and obs.waiting:  # a part still on its way (e.g. a certificate) explains what is left
                return self._settle(obj, req, obs)
            if obs.diffs:
                return _Outcome(
                    "waiting",
                    "Updating",
                    f"applied changes; AWS still differs at {_fields(obs.diffs)}",
                    obs=obs,
                    retry_after=self.settings.wait_seconds,
                )
            return self._settle(obj, req, obs, corrected=corrected)
        return self._settle(obj, req, obs, drift=obs.diffs)

    def _settle(
        self,
        obj: Managed,
        req: Request[SpecT],
        obs: Observation[Any],
        *,
        drift: tuple[Diff, ...] = (),
        corrected: tuple[Diff, ...] = (),
    ) -> _Outcome:
        outputs_target = getattr(req.spec, "outputs", None)
        if outputs_target is not None and obs.outputs:
            self.cluster.publish_outputs(obj.ref, outputs_target.config_map_name, obs.outputs)
        if obs.waiting:
            return _Outcome(
                "waiting", obs.waiting_reason, obs.waiting, obs=obs, drift=drift, retry_after=self.settings.wait_seconds
            )
        if drift:
            return _Outcome("drifted", "DriftDetected", f"AWS differs from the spec at: {_fields(drift)}", obs=obs, drift=drift)
        return _Outcome("ready", "Available", obs=obs, corrected=corrected)

    def _from_error(self, obj: Managed, exc: BaseException) -> _Outcome:
        err = exc if isinstance(exc, StackeryError) else self.classify(exc)
        if isinstance(err, WaitingError):
            return _Outcome("waiting", err.reason, err.message, retry_after=err.retry_after)
        if isinstance(err, BlockedError):
            return _Outcome("blocked", err.reason, err.message, retry_after=self.settings.blocked_seconds)
        if isinstance(err, TerminalError):
            log.warning("%s stalled: %s", obj.ref, err.message)
            return _Outcome("stalled", err.reason, err.message)
        if not isinstance(err, RecoverableError):
            log.exception("%s: unexpected error", obj.ref, exc_info=exc)
        return _Outcome("error", err.reason, err.message)

    # ---------------------------------------------------------------- status
    def _result(self, obj: Managed, out: _Outcome, *, generation_done: bool = True) -> Result:
        now = self.clock()
        old = obj.status
        old_conds = list(old.get("conditions") or [])
        was_ready = conditions.is_true(old_conds, conditions.READY)
        failures = int(old.get("failures") or 0) + 1 if out.phase == "error" else 0
        extra = tuple(out.obs.conditions) if out.obs is not None else ()
        conds = conditions.merge(
            old_conds,
            [*conditions.for_phase(out.phase, out.reason, out.message, was_ready=was_ready), *extra],
            now=_iso(now),
            generation=obj.generation,
        )
        if out.phase in ("ready", "drifted"):
            delay = self.settings.resync_seconds * self._jitter(obj.ref.uid)
        elif out.phase == "error":
            delay = self._backoff(failures)
        elif out.phase == "stalled":
            delay = self.settings.resync_seconds
        else:
            delay = out.retry_after if out.retry_after is not None else self.settings.wait_seconds

        status: dict[str, Any] = {
            "conditions": conds,
            "lastSyncTime": _iso(now),
            "nextCheckAt": _iso(now + timedelta(seconds=delay)),
            "failures": failures or None,
        }
        if out.obs is not None and out.obs.exists:
            # the resource was seen (tagged): a create that was under way is over. After a failed create
            # the marker stays, so an untagged leftover of it is still recognised as ours next time.
            status["pendingCreate"] = None
        if generation_done:
            status["observedGeneration"] = obj.generation
        if out.obs is not None:
            status.update(self._declared(out.obs.identifiers))
        old_drift = {d.get("field"): d for d in (old.get("drift") or [])}
        status["drift"] = [
            {
                "field": d.field,
                "desired": _fmt(d.desired),
                "actual": _fmt(d.actual),
                "detectedAt": (old_drift.get(d.field) or {}).get("detectedAt") or _iso(now),
            }
            for d in out.drift
        ]

        events = self._events(old_conds, conds, out)
        self._progress_metrics(obj, old_conds, out, now)
        ready = conditions.is_true(conds, conditions.READY)
        if ready and not old.get("readyAt"):
            status["readyAt"] = _iso(now)
            created = _parse_iso(obj.created)
            if created is not None:
                metrics.TIME_TO_READY.labels(self.kind).observe(max((now - created).total_seconds(), 0.0))
        result_label = {
            "ready": "success",
            "drifted": "drift",
            "waiting": "waiting",
            "deleting": "waiting",
            "stalled": "stalled",
            "blocked": "stalled",
            "error": "error",
        }[out.phase]
        metrics.RECONCILE_TOTAL.labels(self.kind, result_label).inc()
        if out.drift or out.corrected:
            metrics.DRIFT_DETECTED.labels(self.kind).inc()
        metrics.set_object_state(
            obj.ref.namespace,
            self.kind,
            obj.ref.name,
            ready=ready,
            drifted=bool(out.drift),
            stalled=out.phase in ("stalled", "blocked"),
        )
        return Result(status=status, events=events, requeue_after=delay)

    def _declared(self, ids: Mapping[str, Any]) -> dict[str, Any]:
        """The identifiers whose keys the kind's status model declares; others are a bug, logged and
        dropped (the apiserver would prune them silently)."""
        if self.status_fields is None:
            return dict(ids)
        unknown = sorted(set(ids) - self.status_fields)
        if unknown:
            log.error("%s: adapter returned status keys its model does not declare: %s (dropped)", self.kind, ", ".join(unknown))
        return {k: v for k, v in ids.items() if k in self.status_fields}

    def _progress_metrics(self, obj: Managed, old: list[dict[str, Any]], out: _Outcome, now: datetime) -> None:
        """Node-specific conditions that carry `since` feed their pending gauge while False and their
        duration histogram once, on the pass where they turn True (observe itself never touches metrics)."""
        for c in out.obs.conditions if out.obs is not None else ():
            if c.since is None:
                continue
            before = conditions.get(old, c.type) or {}
            metrics.record_progress(
                obj.ref.namespace,
                self.kind,
                obj.ref.name,
                c.type,
                pending=c.status != "True",
                elapsed=max(now.timestamp() - c.since, 1.0),
                completed=c.status == "True" and before.get("status") == "False",
            )

    def _events(self, old: list[dict[str, Any]], new: list[dict[str, Any]], out: _Outcome) -> list[Event]:
        events: list[Event] = []
        if out.corrected:
            events.append(Event("Normal", "DriftCorrected", f"put back: {_fields(out.corrected)}"))
        old_sync = conditions.get(old, conditions.SYNCED) or {}
        if out.drift and old_sync.get("reason") != "DriftDetected":
            events.append(Event("Warning", "DriftDetected", out.message))
        old_ready, new_ready = conditions.get(old, conditions.READY) or {}, conditions.get(new, conditions.READY) or {}
        changed = (old_ready.get("status"), old_ready.get("reason")) != (new_ready.get("status"), new_ready.get("reason"))
        if changed and out.phase != "drifted":
            etype = "Warning" if out.phase in ("stalled", "blocked", "error") else "Normal"
            events.append(Event(etype, out.reason, out.message or new_ready.get("message") or out.reason))
        for extra in out.obs.conditions if out.obs is not None else ():
            before = conditions.get(old, extra.type) or {}
            if (before.get("status"), before.get("reason")) != (extra.status, extra.reason):
                events.append(Event("Normal", extra.reason, f"{extra.type}={extra.status}: {extra.message}"))
        return events

    # ---------------------------------------------------------------- delete
    def finalize(self, obj: Managed) -> Result:
        """Delete (or retain) the AWS resources. Result.done tells whether the finalizer may go."""
        try:
            spec = self._parse(obj)
        except InvalidSpecError as exc:
            return self._released(
                obj, Event("Warning", "InvalidSpec", f"{exc.message}; AWS resources, if any, were left in place")
            )
        policy = getattr(spec, "deletion_policy", None) or self.settings.default_deletion_policy
        if policy == "Retain" or getattr(spec, "management_policy", "Manage") == "ObserveOnly":
            return self._released(
                obj,
                Event(
                    "Normal",
                    "Retained",
                    f"deletionPolicy {policy} (managementPolicy "
                    f"{getattr(spec, 'management_policy', 'Manage')}): AWS resources left in place",
                ),
            )
        notes: list[Event] = []
        try:
            req = self._request(obj, spec, need_inputs=False)  # deleting needs no Secret values
            obs = self.adapter.observe(req)
            if not (obs.exists or obs.residual or obs.deleting):
                return self._released(obj, Event("Normal", "Deleted", f"{req.external_name} is gone"))
            if obs.exists and obs.owner_uid != obj.ref.uid and not obs.deleting:
                return self._released(
                    obj, Event("Warning", "NotOwned", f"{req.external_name} is not owned by this object; left in place")
                )
            if obs.deleting:
                res = DeleteResult(done=False, message=obs.waiting or f"waiting for AWS to finish deleting {req.external_name}")
            else:
                res = self.adapter.delete(req, obs)
            notes = [Event("Normal", reason, message) for reason, message in res.notes]
            if res.done and (res.confirmed or self._gone(obj, self.adapter.observe(req))):
                return self._released(obj, *notes, Event("Normal", "Deleted", f"deleted {req.external_name}"))
            message = res.message or f"delete of {req.external_name} accepted; waiting for AWS to confirm it is gone"
            outcome = _Outcome("deleting", "Deleting", message, retry_after=self.settings.wait_seconds)
        except Exception as exc:  # noqa: BLE001
            outcome = self._from_error(obj, exc)
        result = self._result(obj, outcome, generation_done=False)
        result.done = False
        result.events = [*notes, *result.events]
        return result

    @staticmethod
    def _gone(obj: Managed, obs: Observation[Any]) -> bool:
        """Nothing of ours is left: not found, not deleting, no residual parts (an empty virtual resource
        or another owner's resource at our name counts as gone for us)."""
        if obs.deleting or obs.residual:
            return False
        return not obs.exists or obs.empty or obs.owner_uid != obj.ref.uid

    def _released(self, obj: Managed, *events: Event) -> Result:
        outputs = obj.spec.get("outputs") or {}
        if outputs.get("configMapName"):
            self.cluster.delete_outputs(obj.ref, outputs["configMapName"])
        metrics.forget_object(obj.ref.namespace, self.kind, obj.ref.name)
        return Result(status={}, events=list(events), requeue_after=None, done=True)
